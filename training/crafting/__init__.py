"""A denoiser's offline training data: CAFA, CW-L2 or PGD examples of a training set, crafted once into shards."""
