"""cnnbook's helpers: data, devices, training, plotting, reused models.

Importing this package has no side effects: no seeding, downloads, prints or
matplotlib settings.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import (
    TEXT_LABELS,
    DataError,
    DeviceLoader,
    get_fashion_mnist_labels,
    load_fashion_mnist,
    read_fashion_mnist,
    read_idx,
)
from .device import seed_everything, try_all_gpus, try_gpu
from .models import (
    Residual,
    init_xavier,
    layer_summary,
    lenet,
    lenet_modern,
    resnet18,
    resnet_stage,
)
from .plotting import LivePlot, compare_histories, plot_history, show_images
from .profile import Budget, Profile, get_profile
from .teaching import (
    conv_output_size,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
    pool2d,
)
from .training import (
    DeviceMismatchError,
    History,
    TrainingDivergedError,
    evaluate_accuracy,
    model_device,
    report_result,
    train,
)

__all__ = [
    "TEXT_LABELS", "Budget", "CheckpointError", "DataError", "DeviceLoader",
    "DeviceMismatchError", "History", "LivePlot", "Profile", "Residual",
    "TrainingDivergedError", "compare_histories", "conv_output_size", "corr2d",
    "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1",
    "evaluate_accuracy", "get_fashion_mnist_labels", "get_profile", "init_xavier",
    "layer_summary", "lenet", "lenet_modern", "load_checkpoint", "load_fashion_mnist",
    "model_device", "plot_history", "pool2d", "read_fashion_mnist", "read_idx", "report_result",
    "resnet18", "resnet_stage", "save_checkpoint", "seed_everything", "show_images",
    "train", "try_all_gpus", "try_gpu",
]
