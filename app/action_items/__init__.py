"""Action items: the measures taken after an incident, and their rollout per service."""
