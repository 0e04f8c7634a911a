"""Reactions across domains, one small function per story.

A service holds the rules of one domain; when a change in one domain brings a change in
another (an SRE joins → the checklist ticks), the story is told here, once, for every
entry point (REST, Alertmanager, a rollback review). Routers and integrations call
flows; flows call services; services never call flows. `.importlinter` enforces it.
"""
