# Run by Dovecot IMAPSieve when a message is copied or moved out of Junk
# into another folder (90-imapsieve.conf, imapsieve_mailbox2_*): a "not
# spam" correction, which withdraws this reporter's earlier report of the
# same message (fadelist finds it by Message-ID and body hash).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

# Deleting spam from Junk moves it to Trash in most clients: that is not
# a correction.
if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if string :is "${mailbox}" "Trash" {
  stop;
}

pipe :copy "fadelist-sieve-report" ["ham"];
