"""`lds build` on a terminal: a tqdm bar over the build's stages, its progress lines printed above the bar."""

from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm

from lds.build.progress import Progress


def build_stages(modes: Iterable[str], skip_geocoder: bool = False) -> list[str]:
    """The step names that end each stage of a build (lds.build.pipeline), in order."""
    per_mode = [step for mode in modes for step in (mode, f"{mode} ch")]
    return ["source", "osm", *per_mode, *([] if skip_geocoder else ["geocoder"]), "tables", "done"]


class BarProgress(Progress):
    """A :class:`Progress` that also moves a bar one step per stage ended (``stages``: their step names; stages
    may run side by side and end in any order)."""

    def __init__(self, stages: Iterable[str], stream=None):
        super().__init__(stream)
        self.stages = list(stages)
        self.bar = tqdm(
            total=len(self.stages),
            unit="stage",
            file=self.stream,
            dynamic_ncols=True,
            bar_format="{desc:<12} {bar} {n_fmt}/{total_fmt} stages [{elapsed}]",
        )

    def __call__(self, step: str, message: str = "") -> None:
        self.bar.write(f"[{self.elapsed():7.1f}s] {step}: {message}", file=self.stream)
        if step == "source":
            self.bar.update(1)
        self.bar.set_description_str(step)
        if step == "done":
            self.bar.update(self.bar.total - self.bar.n)
            self.bar.close()

    def stage_done(self, name: str, **kw) -> dict[str, float]:
        info = super().stage_done(name, **kw)
        if name in self.stages:
            self.bar.update(1)
        return info
