"""Everything that makes and judges the zoo's weights (checkout only; the installable library is ``cafd_zoo``).

One subpackage per concern, each with the subcommands of ``python -m training`` it adds:

- ``engine/``: the resumable run (epoch loop, checkpoints, sample order, stop signal, torchrun/DDP);
- ``classifier/``: target classifiers and the AT / DOA baselines (``train-classifier``);
- ``crafting/``: the denoisers' offline training data, CAFA / CW-L2 / PGD shards (``craft-cafa``,
  ``craft-adversarial``);
- ``denoiser/``: CAFD's denoiser and the HGD / APE-G baselines (``train-denoiser``, ``finetune-denoiser``);
- ``evaluation/``: ``evaluate`` and ``sweep`` on run folders (the driver is ``cafd_zoo.evaluation``);
- ``paper/``: Tables 1-3, Figures 3, 5 and 6, and the CAF-distance measurement (``report``, ``figure``,
  ``caf-distance``);
- ``release/``: export to the manifest and the Hub, publish (``export-classifier``, ``export-defended``,
  ``export-transfer``, ``publish``).

``configs/`` holds one YAML per released checkpoint; ``options.py`` declares every training-only flag once.
"""
