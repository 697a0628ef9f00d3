"""The Faust app package: the only place that imports faust."""
