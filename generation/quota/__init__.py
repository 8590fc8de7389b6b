"""The quota every worker shares: the pacer (one schedule per model and credentials, in Redis),
what an upstream answer's headers say about it (`hints`), and the loop's and admin's view of it
(`pacing`). Below `engine`, which asks it for slots; above `providers`, whose keys it paces."""
