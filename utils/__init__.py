"""cnnbook's helpers: data, devices, training, plotting, reused models.

Importing this package has no side effects: no seeding, downloads, prints or
matplotlib settings.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .classic import (
    VGG11,
    DenseBlock,
    Inception,
    alexnet,
    dense_conv_block,
    densenet,
    googlenet,
    googlenet_small,
    nin,
    nin_block,
    transition_block,
    vgg,
    vgg_block,
)
from .data import (
    TEXT_LABELS,
    DataError,
    DeviceLoader,
    get_fashion_mnist_labels,
    load_fashion_mnist,
    read_fashion_mnist,
    read_idx,
)
from .device import (
    DeviceMismatchError,
    best_time,
    check_batch,
    is_lazy,
    model_device,
    seed_everything,
    try_all_gpus,
    try_gpu,
)
from .experiment import (
    Gain,
    Run,
    Runs,
    Sweep,
    choose,
    compare,
    gain,
    glue,
    plot_runs,
    runs_table,
    sweep,
    t_quantile,
    train_seeds,
)
from .history import History, report_result
from .models import (
    Residual,
    count_macs,
    evaluation_mode,
    init_xavier,
    layer_summary,
    lenet,
    lenet_modern,
    num_params,
    recompute_bn_statistics,
    resnet18,
    resnet_stage,
)
from .plotting import LivePlot, compare_histories, in_notebook, plot_history, show_images
from .profile import Budget, Profile, get_profile
from .speed import Speed
from .teaching import (
    conv_output_size,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    corr2d_multi_in_out_1x1,
    pool2d,
)
from .training import TrainingDivergedError, evaluate_accuracy, train

__all__ = [
    "TEXT_LABELS", "Budget", "CheckpointError", "DataError", "DeviceLoader",
    "DeviceMismatchError", "History", "LivePlot", "Profile", "Residual", "Speed",
    "TrainingDivergedError", "best_time", "check_batch", "compare_histories",
    "conv_output_size", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1", "count_macs", "evaluate_accuracy", "evaluation_mode",
    "get_fashion_mnist_labels", "get_profile", "in_notebook", "init_xavier", "is_lazy",
    "layer_summary",
    "lenet", "lenet_modern", "load_checkpoint", "load_fashion_mnist", "model_device",
    "num_params", "plot_history", "pool2d", "read_fashion_mnist", "read_idx",
    "recompute_bn_statistics", "report_result", "resnet18", "resnet_stage", "save_checkpoint",
    "seed_everything", "show_images",
    "train", "try_all_gpus", "try_gpu",
    "Gain", "Run", "Runs", "Sweep", "choose", "compare", "gain", "glue", "plot_runs", "runs_table",
    "sweep", "t_quantile", "train_seeds",
    "VGG11", "DenseBlock", "Inception", "alexnet", "dense_conv_block", "densenet", "googlenet",
    "googlenet_small", "nin", "nin_block", "transition_block", "vgg", "vgg_block",
]
