"""
====================================================
Where to cut VGG16: flattened vs. pooled conv layers
====================================================

The study cut VGG16 at ``block3_pool``, ``block4_pool`` and ``block5_pool``,
flattened the maps (200,704 / 100,352 / 25,088 values at 224 x 224) and
concluded that conv layers are useless for a softmax. Average-pooling the same
maps over space gives 256 / 512 / 512 values. Here both go into the same head,
beside ``fc1`` and ``fc2`` when the weights have them; let the data speak.

Offline it runs at 112 x 112 on the embedded default with ``hed-bsds500`` (no
fully connected layers). ``--data DIR --weights imagenet --input-size 224``
gives the study's setting.
"""

# %%
from sklvgg import experiments

args = experiments.example_arguments("Where to cut VGG16: flattened vs. pooled conv layers", input_size=112)
data = experiments.example_data(args)
pipe = experiments.make_pipeline(weights=args.weights, input_size=args.input_size, memory=f"{args.out}/cache")

# %%
# One pipeline per cut: ``clone(pipe).set_params(vgg__layer=..., vgg__pooling=...)``.
results = experiments.layer_comparison(data, pipe)
for row in results["rows"]:
    print(
        f"{row['layer']:12s} {row['pooling']:8s} {row['n_features']:7d} features: "
        f"accuracy {row['accuracy']:.3f}"
    )
experiments.save_results(results, args.out, "layers")
results["figures"]["layers"]
