"""Application services: one command = authorise, load, decide, save (with the actor)."""
