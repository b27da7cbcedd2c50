"""Business rules. Services import models and the engine; views and tasks import services."""
