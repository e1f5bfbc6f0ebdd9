"""vjbridge: live music in, learned visual control signals out."""
