# Run by Dovecot IMAPSieve when a message is copied or moved into Junk
# (90-imapsieve.conf, imapsieve_mailbox1_*): reports it to fadelist.
#
# :copy keeps the message where the user put it; the pipe only reads it.
# fadelist-sieve-report spools what it cannot deliver at once, so a
# fadelist restart never loses the report (nor blocks the user's MOVE).
require ["vnd.dovecot.pipe", "copy", "imapsieve"];

pipe :copy "fadelist-sieve-report" ["spam"];
