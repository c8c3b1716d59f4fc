"""The corpora: the tutorial's names, Wikipedia's people and the locale lists; reading, checking,
downloading, encoding and splitting them. Imports only `text` and the shared basics."""
