"""The oracle: telemetry agent, proof of compute, epoch attestations and their signatures."""
