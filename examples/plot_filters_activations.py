"""
=============================================================
Filters and activation maps of the first and last conv layers
=============================================================

The 64 filters of ``block1_conv1`` (3 x 3 x RGB, drawn as colour tiles) and what
the first and last conv layers make of one image: 64 maps of 224 x 224 for
``block1_conv1``, 512 maps of 14 x 14 for ``block5_conv3`` (the first 64 drawn).
"""

# %%
from sklvgg import VGG16FeatureTransformer, experiments

args = experiments.example_arguments("Filters and activation maps of the first and last conv layers")
data = experiments.example_data(args)
image = data.filenames[0]
vgg = VGG16FeatureTransformer(weights=args.weights, layer="block5_conv3", input_size=args.input_size).fit(
    [image]
)

# %%
results = experiments.filters_and_activations(vgg, image)
print({layer: shape for layer, shape in results["shapes"].items()})
experiments.save_results(results, args.out, "filters")
results["figures"]["filters_block1_conv1"]

# %%
results["figures"]["activations_block1_conv1"]

# %%
results["figures"]["activations_block5_conv3"]
