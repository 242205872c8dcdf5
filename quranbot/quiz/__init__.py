"""The quiz, free of Discord: questions (generated from the Tanzil data or read from curated bank files),
their validation, scoring, member statistics and the sessions a question runs in."""
