"""
==============================
Urban Tribes: 11 social groups
==============================

The same protocol on the Urban Tribes set: 11 classes of group photos (bikers,
clubbers, goths, hipsters, ...) in one flat folder,
``pictures_all/<tribe>_group_picNNNNN.jpg``. A held-out set of 4 images per class
gives the curves; the learning curve shows accuracy vs. images per class.

Offline it runs on the embedded default written in the Urban Tribes layout.
``--data DIR/pictures_all --weights imagenet`` runs it on the real photos.
"""

# %%
from sklvgg import experiments

args = experiments.example_arguments("Urban Tribes: 11 social groups")
data = experiments.example_data(args, layout="urban-tribes", n_classes=11)
print(data.DESCR)
pipe = experiments.make_pipeline(weights=args.weights, input_size=args.input_size, memory=f"{args.out}/cache")

# %%
results = experiments.training_and_learning_curves(data, pipe)
print(f"held-out accuracy at 16 per class: {results['test_accuracy']:.3f} (chance {1 / 11:.3f})")
experiments.save_results(results, args.out, "urban_tribes")
results["figures"]["training_curves"]

# %%
results["figures"]["images_per_class"]
