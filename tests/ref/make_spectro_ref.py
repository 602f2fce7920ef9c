#!/usr/bin/python3
"""make_spectro_ref.py - golden log-mel references for spectro (tests/unit/spectro_golden.c).

Run once from the project root (needs Debian's python3-torchaudio, -soundfile, -numpy):
    /usr/bin/python3 tests/ref/make_spectro_ref.py [--clips]
--clips first re-cuts the small committed clips in tests/data/audio/ from
../shared/data/audio (licences: tests/data/audio/README.md).

Each reference is torchaudio configured exactly as librosa's defaults:
  MelSpectrogram(sample_rate=22050, n_fft=2048, win_length=2048, hop_length=512,
                 n_mels=128, power=2.0, center=True, pad_mode="constant",
                 norm="slaney", mel_scale="slaney") then AmplitudeToDB(top_db=80)
on the same decoded samples spectro sees: libsndfile (soundfile) float32 decode,
channels averaged.  Output: tests/data/audio/ref/<clip>.<variant>.npy, float32
[frames, n_mels] (the row layout of spectro's output).  Mel filter banks of
torchaudio.functional.melscale_fbanks go to fbank_<variant>.npy [n_freqs, n_mels].
"""
import os
import sys

import numpy as np
import soundfile as sf
import torch
import torchaudio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "audio")
REF = os.path.join(DATA, "ref")
SHARED = os.path.join(ROOT, "..", "shared", "data", "audio")

# clip name -> (source under SHARED, start s, duration s or None = whole file copied)
CLIPS = {
    "trumpet.ogg": ("librosa/sorohanro_-_solo-trumpet-06.ogg", 0, None),
    "robin.ogg": ("librosa/456440__inspectorj__bird-whistling-robin-single-13.ogg", 0, None),
    "brahms_4s.flac": ("librosa/Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg", 10.0, 4.0),
    "machine_wars_4s.flac": ("debian/asc-music/machine_wars.mp3", 60.0, 4.0),
}

# variant -> (clips, spectro options, torchaudio settings)
VARIANTS = {
    "default": (list(CLIPS), dict(pad_mode="constant", norm="slaney", mel_scale="slaney", f_min=0.0, f_max=None)),
    "htk_none_8k_reflect": (["trumpet.ogg"],
                            dict(pad_mode="reflect", norm=None, mel_scale="htk", f_min=0.0, f_max=8000.0)),
    "slaney_fmin30_8k": (["machine_wars_4s.flac"],
                         dict(pad_mode="constant", norm="slaney", mel_scale="slaney", f_min=30.0, f_max=8000.0)),
}


def cut_clips():
    import shutil
    for name, (src, start, dur) in CLIPS.items():
        path = os.path.join(SHARED, src)
        out = os.path.join(DATA, name)
        if dur is None:
            shutil.copyfile(path, out)
            continue
        info = sf.info(path)
        x, sr = sf.read(path, start=int(start * info.samplerate), frames=int(dur * info.samplerate),
                        dtype="float32", always_2d=True)
        sf.write(out, x, sr, format="FLAC", subtype="PCM_16")
        print(f"{out}: {x.shape[0]} frames, {x.shape[1]} ch, {sr} Hz")


def decode(path):
    """What spectro's audio_open/audio_read produce at the file's own rate."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    if x.shape[1] == 1:
        mono = x[:, 0]
    elif x.shape[1] == 2:
        mono = (x[:, 0] + x[:, 1]) * np.float32(0.5)
    else:
        mono = x.sum(axis=1, dtype=np.float32) * np.float32(1.0 / x.shape[1])
    return np.ascontiguousarray(mono, dtype=np.float32), sr


def logmel(x, sr, cfg):
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=sr, n_fft=2048, win_length=2048, hop_length=512, n_mels=128, power=2.0,
        center=True, pad_mode=cfg["pad_mode"], norm=cfg["norm"], mel_scale=cfg["mel_scale"],
        f_min=cfg["f_min"], f_max=cfg["f_max"])
    db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)
    with torch.no_grad():
        s = db(mel(torch.from_numpy(x)))
    return s.numpy().T.astype(np.float32)   # [frames, n_mels]


def main():
    torch.set_num_threads(1)
    if "--clips" in sys.argv:
        cut_clips()
    os.makedirs(REF, exist_ok=True)
    for variant, (clips, cfg) in VARIANTS.items():
        for name in clips:
            x, sr = decode(os.path.join(DATA, name))
            assert sr == 22050, f"{name}: {sr} Hz; the golden clips must be at 22050 Hz"
            s = logmel(x, sr, cfg)
            stem = os.path.splitext(name)[0]
            np.save(os.path.join(REF, f"{stem}.{variant}.npy"), s)
            print(f"{stem}.{variant}: {s.shape[0]} frames, {x.size} samples, dB {s.min():.2f}..{s.max():.2f}")
    # filter banks alone: small sizes keep the files small
    fb = {
        "slaney_slaney": dict(n_freqs=129, f_min=0.0, f_max=11025.0, n_mels=24, sample_rate=22050,
                              norm="slaney", mel_scale="slaney"),
        "htk_none_300_8000": dict(n_freqs=129, f_min=300.0, f_max=8000.0, n_mels=24, sample_rate=22050,
                                  norm=None, mel_scale="htk"),
        "slaney_slaney_16k": dict(n_freqs=257, f_min=50.0, f_max=7000.0, n_mels=40, sample_rate=16000,
                                  norm="slaney", mel_scale="slaney"),
    }
    for name, kw in fb.items():
        m = torchaudio.functional.melscale_fbanks(**kw).numpy().astype(np.float32)
        np.save(os.path.join(REF, f"fbank_{name}.npy"), m)
        print(f"fbank_{name}: {m.shape}")


if __name__ == "__main__":
    main()
