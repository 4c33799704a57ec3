"""Extracting the HD frames of CMU Panoptic videos into the layout :class:`PanopticDataset` reads.

``<root>/<seq>/hdVideos/hd_<cam>.mp4`` -> ``<root>/<seq>/hdImgs/<cam>/<cam>_%08d.jpg``,
video frame ``i`` (from 0) being skeleton frame ``i`` (as the panoptic-toolbox
scripts number them). Which frames are written:

* all of them, or every ``every``-th (``i % every == 0``);
* with ``only_annotated``, the frames the loader lists (skeleton file with at
  least one body), every ``every``-th of them: ``PanopticDataset(every=N)``
  then finds an image for every frame it lists.

Resumable: an image already there and complete (a JPEG ending with its
end-of-image marker) is skipped without decoding its video frame. Each image
is encoded in memory, written to a hidden temporary name in the same folder
and renamed into place (``os.replace``), so an interrupted run leaves no
torn image; temporaries left by a killed run are removed on the next one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .frames import DatasetError, image_signature
from .panoptic import PANOPTIC_SEQUENCES, PANOPTIC_TEST_CAMERAS, annotated_frames, image_path, sample_positions

__all__ = ["JPEG_QUALITY", "ExtractionJob", "extract_frames", "extract_video", "is_complete_jpeg", "plan_extraction",
           "run_extraction", "video_path"]

JPEG_QUALITY = 95
"""JPEG quality of the written frames (OpenCV scale, 0-100)."""
_TMP_PREFIX = ".partial-"


def video_path(root: str | os.PathLike, sequence: str, camera: str) -> Path:
    """``<root>/<seq>/hdVideos/hd_<cam>.mp4``."""
    return Path(root) / sequence / "hdVideos" / f"hd_{camera}.mp4"


def is_complete_jpeg(path: str | os.PathLike) -> bool:
    """True when ``path`` is a file starting with the JPEG start marker and ending with the end marker."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(-2, os.SEEK_END)
            return head == b"\xff\xd8" and f.read(2) == b"\xff\xd9"
    except OSError:
        return False


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        above = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise DatasetError(f"{folder}: cannot make the image folder ({above} is a file, not a folder)") from None
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot make the image folder ({exc.strerror or exc})") from None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def extract_video(video: str | os.PathLike, out_dir: str | os.PathLike, camera: str, *,
                  frames: Sequence[int] | None = None, every: int = 1,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Writes frames of one video as ``<out_dir>/<camera>_%08d.jpg``.

    Args:
        video: The video file.
        out_dir: The image folder (created).
        camera: Camera name, the file name prefix.
        frames: Frame indices to write (``every`` is then ignored); ``None``:
            every ``every``-th frame of the video.
        every: Step over the video's frames when ``frames`` is None.
        progress: Called with 1 per video frame passed.

    Returns:
        ``{"written", "skipped" (already complete), "missing" (asked for but
        past the end of the video), "video_frames" (frames read)}``.

    Raises:
        DatasetError: the video is missing, cannot be opened, is a still
            image (e.g. a PNG renamed ``.mp4``) or holds no frame (names
            it); ``out_dir`` cannot be made (e.g. ``hdImgs`` is a file; names it).
    """
    import cv2

    video, out_dir = Path(video), Path(out_dir)
    if not video.is_file():
        raise DatasetError(f"{video}: no such video file")
    still = image_signature(video)
    if still is not None:
        raise DatasetError(f"{video}: a {still} image, not a video")
    wanted = None if frames is None else sorted({int(f) for f in frames})
    _make_folder(out_dir)
    for stale in out_dir.glob(f"{_TMP_PREFIX}*"):
        stale.unlink(missing_ok=True)

    def target(i: int) -> Path:
        return out_dir / f"{camera}_{i:08d}.jpg"

    todo = None
    stats = {"written": 0, "skipped": 0, "missing": 0, "video_frames": 0}
    if wanted is not None:
        done = {i for i in wanted if is_complete_jpeg(target(i))}
        stats["skipped"] = len(done)
        todo = set(wanted) - done
        if not todo:
            if progress is not None and wanted:
                progress(wanted[-1] + 1)
            return stats
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise DatasetError(f"{video}: cannot open the video")
        last = max(todo) if todo is not None else None
        i = 0
        while last is None or i <= last:
            if not cap.grab():
                break
            needed = (i in todo) if todo is not None else (i % every == 0)
            if needed and todo is None and is_complete_jpeg(target(i)):
                stats["skipped"] += 1
                needed = False
            if needed:
                ok, image = cap.retrieve()
                if not ok:
                    raise DatasetError(f"{video}: frame {i} cannot be decoded")
                ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    raise DatasetError(f"{video}: frame {i} cannot be encoded as JPEG")
                _write_atomic(target(i), data.tobytes())
                stats["written"] += 1
            i += 1
            if progress is not None:
                progress(1)
        stats["video_frames"] = i
    finally:
        cap.release()
    if i == 0 and (todo is None or todo):
        raise DatasetError(f"{video}: the video holds no readable frame")
    if todo is not None:
        stats["missing"] = sum(1 for f in todo if f >= stats["video_frames"])
    return stats


def _frame_count(video: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0) if cap.isOpened() else 0
    finally:
        cap.release()


@dataclass(frozen=True)
class ExtractionJob:
    """One video to extract.

    Attributes:
        sequence: Sequence name.
        camera: HD camera name.
        video: The video file.
        frames: Frame indices to write, or ``None`` for every ``every``-th.
        every: Step over the video's frames when ``frames`` is None.
        expected_frames: Video frames to pass (for a progress bar; from the
            video's header when ``frames`` is None).
    """

    sequence: str
    camera: str
    video: Path
    frames: tuple[int, ...] | None
    every: int
    expected_frames: int


def plan_extraction(root: str | os.PathLike, sequences: Sequence[str] | None = None,
                    cameras: Sequence[str] = PANOPTIC_TEST_CAMERAS, *, every: int = 1,
                    only_annotated: bool = False) -> list[ExtractionJob]:
    """Checks the inputs and lists the videos of ``sequences`` x ``cameras`` to extract.

    Args:
        root: The Panoptic folder.
        sequences: Sequence names (default :data:`~ssmp3d.data.panoptic.PANOPTIC_SEQUENCES`).
        cameras: HD camera names (default the test cameras ``00_16``, ``00_30``).
        every: Keep every ``every``-th frame (of the video, or of the annotated ones).
        only_annotated: Only the frames the loader lists (parses the skeleton files once).

    Raises:
        DatasetError: a missing root, sequence folder or video, a still
            image named like a video, or (``only_annotated``) a bad skeleton
            file; names it.
        ValueError: bad arguments.
    """
    root = Path(root)
    sequences = tuple(PANOPTIC_SEQUENCES if sequences is None else sequences)
    cameras = tuple(cameras)
    if not sequences or not cameras:
        raise ValueError("sequences, cameras: expected at least one name each")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every: expected an int >= 1, got {every!r}")
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    jobs = []
    for seq in sequences:
        if not (root / seq).is_dir():
            raise DatasetError(f"{root / seq}: no such sequence folder")
        wanted = None
        if only_annotated:
            listed, _, _ = annotated_frames(root / seq)
            wanted = tuple(int(f) for f in listed[sample_positions(len(listed), every)])
        for cam in cameras:
            video = video_path(root, seq, cam)
            if not video.is_file():
                raise DatasetError(f"{video}: no such video file")
            still = image_signature(video)
            if still is not None:
                raise DatasetError(f"{video}: a {still} image, not a video")
            expected = _frame_count(video) if wanted is None else (wanted[-1] + 1 if wanted else 0)
            jobs.append(ExtractionJob(seq, cam, video, wanted, every, expected))
    return jobs


def run_extraction(root: str | os.PathLike, jobs: Sequence[ExtractionJob], *,
                   progress: Callable[[int], None] | None = None) -> dict:
    """Extracts the videos of ``jobs`` (:func:`plan_extraction`) under ``root``.

    Returns:
        ``{"videos": {"<seq>/<cam>": stats}, "written", "skipped", "missing"}``
        with ``stats`` of :func:`extract_video`.

    Raises:
        DatasetError: a video that cannot be opened or decoded (named).
    """
    report: dict = {"videos": {}, "written": 0, "skipped": 0, "missing": 0}
    for job in jobs:
        out_dir = image_path(root, job.sequence, job.camera, 0).parent
        stats = extract_video(job.video, out_dir, job.camera, frames=job.frames, every=job.every, progress=progress)
        report["videos"][f"{job.sequence}/{job.camera}"] = stats
        for k in ("written", "skipped", "missing"):
            report[k] += stats[k]
    return report


def extract_frames(root: str | os.PathLike, sequences: Sequence[str] | None = None,
                   cameras: Sequence[str] = PANOPTIC_TEST_CAMERAS, *, every: int = 1, only_annotated: bool = False,
                   progress: Callable[[int], None] | None = None) -> dict:
    """:func:`plan_extraction` then :func:`run_extraction` (see the module docstring).

    ``progress`` is called with the number of video frames passed.
    """
    jobs = plan_extraction(root, sequences, cameras, every=every, only_annotated=only_annotated)
    return run_extraction(root, jobs, progress=progress)
