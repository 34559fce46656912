"""Sub-commands of `synthrec`, one module each; each exposes `register(app)`."""
