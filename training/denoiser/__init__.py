"""CAFD's denoiser (paper Algorithm 2) and the HGD / APE-G baselines: configs, losses, training pairs, trainer."""
