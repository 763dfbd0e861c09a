"""
==============================================
Temperature sweep on the 1000 ImageNet outputs
==============================================

Cut VGG16 at its last layer, soften the 1000 ImageNet probabilities with a
temperature, ``softmax(logits / T)``, and train the new softmax on them. A
``GridSearchCV`` over ``vgg__temperature`` finds the best ``T`` (about 1.5 for 256
Caltech classes in the study). The per-image cache holds the logits, so the whole
grid costs one VGG16 pass.

**Offline, the 1000-way layer is random** (neither the embedded default nor
``hed-bsds500`` has it): the example runs end to end but its numbers mean nothing
until ``--weights imagenet`` (and ``--data`` with 64 or 256 classes) is given.
"""

# %%
from sklvgg import experiments

args = experiments.example_arguments("Temperature sweep on the 1000 ImageNet outputs", weights="none")
data = experiments.example_data(args)
meaningless = args.weights in (None, "hed-bsds500")
note = "random 1000-way layer:\nthese numbers mean nothing\nuntil --weights imagenet" if meaningless else None
if meaningless:
    print(
        "WARNING: no ImageNet weights: the 1000-way layer is random, so these numbers mean "
        "nothing until --weights imagenet is given."
    )
pipe = experiments.make_pipeline(
    weights=None if args.weights == "hed-bsds500" else args.weights,
    layer="predictions",
    pooling=None,
    input_size=224,
    memory=f"{args.out}/cache",
)

# %%
# ``GridSearchCV(pipe, {"vgg__temperature": [...]}, cv=PerClassSplit(16, 4))`` for
# 64 and 256 classes (or all the classes there are).
results = experiments.temperature_sweep(data, pipe, note=note)
for k, sweep in results["sweeps"].items():
    print(f"{k} classes: best T = {sweep['best_temperature']:g}")
    for t, best, final in zip(sweep["temperatures"], sweep["max"], sweep["final"]):
        print(f"  T = {t:4g}: max {best:.3f}, final {final:.3f}")
experiments.save_results(results, args.out, "temperature")
next(iter(results["figures"].values()))
