"""Page and API blueprints."""
