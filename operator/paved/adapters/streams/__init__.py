"""Stream backlogs: what a consumer group has not scored yet."""
