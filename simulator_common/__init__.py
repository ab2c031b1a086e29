"""Standard-library plumbing the Census, Hightouch and Files.com simulators share."""
