"""The quota every worker shares: the pacer (one schedule per model and credentials, in Redis),
what it learns where no answer states the quota (`learned`), and the loop's and admin's view of it
(`pacing`). Below `engine`, which asks it for slots; above `providers`, whose keys it paces."""
