"""Names as text: the alphabet, normalisation, writing systems and Japanese readings. The lowest
layer above the shared basics; it imports no other layer."""
