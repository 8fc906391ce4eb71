"""Where a run's metrics and model go besides stdout: `report_to` trackers and `push_to_hub`, checked before
anything loads.

transformers names a tracker it cannot import only when the trainer is built, after data and model have
loaded, in a 37-line traceback ("TrackioCallback requires trackio to be installed"); and a push to the hub fails
after the whole run, when the final model is uploaded. Both are checked here first, in one line each:
`pip install 'rl-critic[tracking]'` installs the three trackers the docs name (tensorboard, trackio, wandb).
"""

from __future__ import annotations

import importlib.util
import os

from rl_critic.ground.errors import UserError
from rl_critic.ground.hub import endpoint_reachable, hub_offline

# report_to value -> the modules transformers accepts for it (any one of them)
TRACKER_MODULES = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "trackio": ("trackio",),
    "wandb": ("wandb",),
    "mlflow": ("mlflow",),
    "comet_ml": ("comet_ml",),
    "clearml": ("clearml",),
    "neptune": ("neptune",),
    "swanlab": ("swanlab",),
}
EXTRA = {"tensorboard": "tracking", "trackio": "tracking", "wandb": "tracking"}


def requested_trackers(report_to) -> list[str]:
    """The trackers `report_to` names (`none` and `all` name none: `all` takes whatever is installed)."""
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return [name for name in names if name not in ("none", "all")]


def check_trackers(report_to) -> None:
    for name in requested_trackers(report_to):
        modules = TRACKER_MODULES.get(name)
        if modules is None or any(importlib.util.find_spec(module) for module in modules):
            continue  # an integration we do not know is transformers' to name
        how = f"pip install 'rl-critic[{EXTRA[name]}]'" if name in EXTRA else f"pip install {modules[0]}"
        raise UserError(
            f"--report_to {name}: the {modules[0]} package is not installed ({how}), or pass --report_to none"
        )


def hub_token(training_args) -> str | None:
    from huggingface_hub import get_token

    return training_args.hub_token or get_token()


def check_push_to_hub(training_args) -> None:
    """`push_to_hub`: a token, and a hub that answers, before training starts (not after it ends)."""
    if not training_args.push_to_hub:
        return
    target = (
        training_args.hub_model_id or f"<your account>/{os.path.basename(os.path.normpath(training_args.output_dir))}"
    )
    if hub_offline():
        raise UserError(f"--push_to_hub true cannot push to {target}: HF_HUB_OFFLINE=1 keeps this run off the hub")
    if not hub_token(training_args):
        raise UserError(
            f"--push_to_hub true: no Hugging Face token to push {target} with (set HF_TOKEN, run `hf auth login`, "
            "or pass --hub_token)"
        )
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    reason = endpoint_reachable(endpoint)
    if reason is not None:
        raise UserError(f"--push_to_hub true: {endpoint} cannot be reached ({reason}), so {target} could not be pushed")


def check_tracking(training_args) -> None:
    check_trackers(training_args.report_to)
    check_push_to_hub(training_args)
