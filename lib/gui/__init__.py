"""The browser GUI (``faceswap.py gui``): forms generated from the commands' own parsers, jobs on the service's
queue, a live training monitor, the faces browser and the convert tuner, served by the service's web app."""
