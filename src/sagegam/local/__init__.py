"""SageMaker's lifecycle on one machine: container engines and the image."""
