"""
=============================================================
Filters and activation maps of the first and last conv layers
=============================================================

The 64 filters of ``block1_conv1`` (3 x 3 x RGB, drawn as colour tiles) and what
the first and last conv layers make of one image: 64 maps of 224 x 224 for
``block1_conv1``, all 512 maps of 14 x 14 for ``block5_conv3`` (the report's
Figures 4-5 and 12-13; hundreds of maps are drawn as one image).
"""

# %%
from sklvgg.experiments import example_setup

args, data = example_setup("Filters and activation maps of the first and last conv layers")
image = data.filenames[0]

# %%
# Any conv or pool layer can be read from a fitted transformer.
from sklvgg import VGG16FeatureTransformer
from sklvgg.plotting import plot_activation_maps, plot_conv_filters

vgg = VGG16FeatureTransformer(
    weights=args.weights, layer="block5_conv3", input_size=args.input_size, random_state=0
)
vgg.fit([image])
print(vgg.activation_maps([image], layer="block5_conv3").shape)
filters = plot_conv_filters(vgg, layer="block1_conv1")

# %%
first = plot_activation_maps(vgg, [image], layer="block1_conv1")

# %%
last = plot_activation_maps(vgg, [image], layer="block5_conv3")

# %%
# Saving the figures (plumbing)
from sklvgg.experiments import save_results

figures = {
    "filters_block1_conv1": filters,
    "activations_block1_conv1": first,
    "activations_block5_conv3": last,
}
save_results({"figures": figures}, args.out, "filters")
