"""The review workspace's queries and decisions: the queue, one submission, bulk review, the gallery."""
