"""Study-level stopping: the recipe's ``stop`` rules, the evidence they read, and the monitor
that ends a study once one of them fires (no new trial starts; running ones finish, under
ASHA at their next rung)."""
