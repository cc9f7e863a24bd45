"""The learner's page (its JSON, HTML and local server) and pictures drawn with matplotlib."""
