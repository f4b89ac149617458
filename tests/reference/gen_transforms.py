#!/usr/bin/env python3
"""Regenerates tests/reference/data/images/: small PNG and JPEG files with the pixels
torchvision (libpng, libjpeg-turbo) decodes from them, and torchvision 0.14's tensor
transforms on small inputs. Read by tests/nn/image_test.cpp and tests/nn/transforms_test.cpp.

    /usr/bin/python3 tests/reference/gen_transforms.py

Both text files use the format of refcase.py (case / input / output / end):
  decode.txt      case <file>/<mode> with no inputs and one output: the uint8 [C, H, W]
                  image that read_image(<file>, <mode>) must give. PNG pixels are the
                  arrays the files were written from (16-bit samples reduced with >> 8,
                  palettes expanded, tRNS of a palette becoming alpha); the gray modes of
                  colour PNGs come from torchvision.io.read_image, i.e. libpng's
                  rgb_to_gray with torchvision's weights (0.2989, 0.587, 0.1141 in
                  libpng's 15-bit fixed point). JPEG pixels come from libjpeg-turbo via
                  torchvision, as kiln decodes them. torchvision 0.14 reads a CMYK JPEG
                  only unchanged (4 channels, Adobe's inverted CMYK); its RGB here is
                  c * k // 255 per channel (torchvision 0.18's conversion) and its gray
                  libjpeg's 0.299 / 0.587 / 0.114 weights in 16-bit fixed point.
  transforms.txt  case <op>.<variant>: input 0 is the image, input 1 the parameters
                  (int64 or float64, see the comment of each case), output 0 the result
                  of torchvision.transforms.functional on tensors.
"""
import io
import pathlib
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision.io as tio
import torchvision.transforms.functional as F
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "data" / "images"
sys.path.insert(0, str(HERE))
import refcase  # noqa: E402
from refcase import Case  # noqa: E402

MODES = {"unchanged": tio.ImageReadMode.UNCHANGED, "gray": tio.ImageReadMode.GRAY,
         "gray_alpha": tio.ImageReadMode.GRAY_ALPHA, "rgb": tio.ImageReadMode.RGB,
         "rgb_alpha": tio.ImageReadMode.RGB_ALPHA}


# ---- a minimal PNG writer, for layouts PIL does not write (16-bit RGB, Adam7, 2-bit) ----

def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_row(row, bit_depth):
    """row: (W, C) integer samples -> the bytes of one scanline (without the filter byte)."""
    flat = row.reshape(-1)
    if bit_depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in flat)
    if bit_depth == 8:
        return bytes(int(v) for v in flat)
    per_byte = 8 // bit_depth
    out = bytearray()
    for k in range(0, len(flat), per_byte):
        byte = 0
        for j, v in enumerate(flat[k:k + per_byte]):
            byte |= int(v) << (8 - bit_depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(pixels, bit_depth, color_type, interlace=False, plte=None, trns=None):
    """pixels: (H, W, C) samples (palette indices for color type 3)."""
    h, w = pixels.shape[:2]
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = pixels[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for row in sub:
                raw += b"\0" + pack_row(row, bit_depth)
    else:
        for row in pixels:
            raw += b"\0" + pack_row(row, bit_depth)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0,
                                                            1 if interlace else 0))
    if plte is not None:
        out += chunk(b"PLTE", bytes(int(v) for v in plte.reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", bytes(int(v) for v in trns))
    return out + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")


def chw(hwc):
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))).to(torch.uint8)


def to_mode(natural, mode):
    """The expected image in `mode` from the natural (H, W, C) 8-bit pixels, for the
    conversions that need no gray weights."""
    c = natural.shape[2]
    color = natural[..., :3] if c >= 3 else np.repeat(natural[..., :1], 3, axis=2)
    alpha = natural[..., c - 1:] if c in (2, 4) else np.full(natural.shape[:2] + (1,), 255, np.uint8)
    if mode == "unchanged":
        return natural
    if mode == "rgb":
        return color
    if mode == "rgb_alpha":
        return np.concatenate([color, alpha], axis=2)
    if c <= 2:  # already gray
        return natural[..., :1] if mode == "gray" else np.concatenate([natural[..., :1], alpha], axis=2)
    return None  # gray from colour: from torchvision


def png_files(rng):
    """(file name, bytes, natural 8-bit (H, W, C) pixels) of every PNG test file."""
    h, w = 5, 7
    files = []
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    files.append(("rgb8.png", png_bytes(rgb, 8, 2), rgb))
    gray = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
    files.append(("gray8.png", png_bytes(gray, 8, 0), gray))
    graya = rng.integers(0, 256, (h, w, 2), dtype=np.uint8)
    files.append(("gray_alpha8.png", png_bytes(graya, 8, 4), graya))
    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    files.append(("rgba8.png", png_bytes(rgba, 8, 6), rgba))
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    index = rng.integers(0, 6, (h, w, 1), dtype=np.uint8)
    files.append(("palette.png", png_bytes(index, 8, 3, plte=palette), palette[index[..., 0]]))
    trns = np.array([255, 0, 128, 7], dtype=np.uint8)  # entries 4 and 5 are opaque
    alpha = np.concatenate([trns, [255, 255]]).astype(np.uint8)
    files.append(("palette_trns.png", png_bytes(index, 8, 3, plte=palette, trns=trns),
                  np.concatenate([palette[index[..., 0]], alpha[index[..., 0]][..., None]], axis=2)))
    index4 = rng.integers(0, 6, (h, w, 1), dtype=np.uint8)
    files.append(("palette4.png", png_bytes(index4, 4, 3, plte=palette), palette[index4[..., 0]]))
    rgb16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    files.append(("rgb16.png", png_bytes(rgb16, 16, 2), (rgb16 >> 8).astype(np.uint8)))
    graya16 = rng.integers(0, 65536, (h, w, 2), dtype=np.uint16)
    files.append(("gray_alpha16.png", png_bytes(graya16, 16, 4), (graya16 >> 8).astype(np.uint8)))
    big = rng.integers(0, 256, (11, 13, 4), dtype=np.uint8)  # every Adam7 pass non-empty
    files.append(("rgba8_interlaced.png", png_bytes(big, 8, 6, interlace=True), big))
    gray2 = rng.integers(0, 4, (h, w, 1), dtype=np.uint8)
    files.append(("gray2.png", png_bytes(gray2, 2, 0), (gray2 * 85).astype(np.uint8)))
    return files


def jpeg_files(rng):
    h, w = 11, 19
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([x * 12 + y * 3, 200 - y * 15 + x, 90 + 60 * np.sin(x / 3.0) * np.cos(y / 2.0)], axis=2)
    img = np.clip(smooth + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    files = []
    for name, kwargs, mode in [("color444.jpg", dict(quality=92, subsampling=0), "RGB"),
                               ("color420.jpg", dict(quality=85, subsampling=2), "RGB"),
                               ("progressive.jpg", dict(quality=90, progressive=True), "RGB"),
                               ("gray.jpg", dict(quality=90), "L"),
                               ("cmyk.jpg", dict(quality=90), "CMYK")]:
        buf = io.BytesIO()
        Image.fromarray(img).convert(mode).save(buf, format="JPEG", **kwargs)
        files.append((name, buf.getvalue()))
    return files


def decode_cases():
    rng = np.random.default_rng(20240605)
    lines = []
    for name, data, natural in png_files(rng):
        (OUT / name).write_bytes(data)
        for mode, tv_mode in MODES.items():
            expected = to_mode(natural, mode)
            if expected is None and "16" in name:
                continue  # torchvision 0.14 reads no 16-bit PNG, so no gray weights to compare with
            if expected is None:
                # Gray from colour: libpng's conversion as torchvision asks for it. With
                # GRAY_ALPHA torchvision misreads palettes without tRNS (it expects an alpha
                # channel libpng does not add), so the alpha is appended here instead.
                expected = tio.read_image(str(OUT / name), tio.ImageReadMode.GRAY)
                if mode == "gray_alpha":
                    alpha = natural[..., 3:] if natural.shape[2] == 4 else np.full(natural.shape[:2] + (1,), 255, np.uint8)
                    expected = torch.cat([expected, chw(alpha)])
                    if not name.startswith("palette"):
                        assert torch.equal(tio.read_image(str(OUT / name), tv_mode), expected), (name, mode)
            else:
                expected = chw(expected)
                # Cross-check against torchvision where it decodes the same way (not
                # palettes, which it leaves as indices, 16-bit files, which it rejects, or
                # added alpha below 8 bits, which it sets to 2^bit_depth - 1, not 255).
                if name.endswith("8.png") or name.endswith("interlaced.png"):
                    got = tio.read_image(str(OUT / name), tv_mode)
                    assert torch.equal(got, expected), (name, mode)
            lines += record(f"{name}/{mode}", expected)
    for name, data in jpeg_files(rng):
        (OUT / name).write_bytes(data)
        if name == "cmyk.jpg":
            cmyk = tio.read_image(str(OUT / name), MODES["unchanged"]).to(torch.int64)
            rgb = cmyk[:3] * cmyk[3:] // 255
            weights = torch.tensor([19595, 38470, 7471]).view(3, 1, 1)
            gray = ((rgb * weights).sum(0, keepdim=True) + 32768) >> 16
            for mode, t in (("unchanged", cmyk), ("gray", gray), ("rgb", rgb)):
                lines += record(f"{name}/{mode}", t.to(torch.uint8))
            continue
        for mode in ("unchanged", "gray", "rgb"):
            lines += record(f"{name}/{mode}", tio.read_image(str(OUT / name), MODES[mode]))
    return lines


def record(name, t):
    return [f"case {name} grad=0 gradcheck=0 gradgradcheck=0 noncontig=0", refcase._tensor_line("output", 0, t),
            "end"]


# ---- transforms ----

def ints(*v):
    return torch.tensor(v, dtype=torch.int64)


def floats(*v):
    return torch.tensor(v, dtype=torch.float64)


def img(c, h, w, dtype=torch.float32):
    if dtype == torch.uint8:
        return lambda: [torch.randint(0, 256, (c, h, w), dtype=torch.uint8)]
    return lambda: [torch.rand(c, h, w, dtype=dtype)]


def with_params(make, params):
    return lambda: make() + [params]


def case(name, fn, inputs, **kw):
    return Case(name, fn, inputs, grad=False, gradcheck=False, gradgradcheck=False, **kw)


def transform_cases():
    cs = []
    # resize: params = size ([s]: the smaller edge, [h, w]: exact); bilinear, antialias off.
    resize = lambda x, s: F.resize(x, s.tolist(), antialias=False)  # noqa: E731
    for name, (c, h, w), size, dtype in [
            ("smaller_edge_up", (3, 5, 7), [9], torch.float32),
            ("smaller_edge_down", (3, 11, 17), [6], torch.float32),
            ("smaller_edge_tall", (2, 13, 6), [4], torch.float32),
            ("smaller_edge_unchanged", (3, 6, 9), [6], torch.float32),
            ("smaller_edge_third", (1, 7, 10), [3], torch.float32),
            ("exact_up_nonsquare", (3, 5, 7), [8, 15], torch.float32),
            ("exact_down", (3, 16, 13), [7, 5], torch.float32),
            ("exact_mixed", (1, 9, 4), [4, 10], torch.float32),
            ("exact_double", (2, 4, 3), [8, 6], torch.float32),
            ("to_one_pixel", (3, 6, 5), [1, 1], torch.float32),
            ("f64", (2, 5, 9), [7, 4], torch.float64),
            ("u8_up", (3, 5, 7), [10, 14], torch.uint8),
            ("u8_down", (3, 17, 12), [5, 7], torch.uint8),
            ("u8_smaller_edge", (3, 9, 13), [5], torch.uint8),
            ("u8_mixed", (1, 6, 11), [9, 4], torch.uint8)]:
        cs.append(case(f"resize.{name}", resize, with_params(img(c, h, w, dtype), ints(*size))))
    # crop: params = (top, left, height, width)
    crop = lambda x, p: F.crop(x, *p.tolist())  # noqa: E731
    cs.append(case("crop.inside", crop, with_params(img(3, 6, 8), ints(1, 2, 4, 3))))
    cs.append(case("crop.whole", crop, with_params(img(2, 5, 4), ints(0, 0, 5, 4))))
    cs.append(case("crop.u8_corner", crop, with_params(img(3, 5, 7, torch.uint8), ints(3, 5, 2, 2))))
    # center_crop: params = (height, width); larger than the image pads with zeros
    center = lambda x, p: F.center_crop(x, p.tolist())  # noqa: E731
    for name, (c, h, w), size in [("odd", (3, 7, 9), [4, 5]), ("even_rounding", (3, 8, 8), [5, 3]),
                                  ("half_to_even", (1, 9, 6), [6, 3]), ("pad_both", (3, 5, 6), [8, 9]),
                                  ("pad_height_crop_width", (2, 5, 9), [8, 4]), ("same", (1, 4, 4), [4, 4])]:
        cs.append(case(f"center_crop.{name}", center, with_params(img(c, h, w), ints(*size))))
    # resized_crop: params = (top, left, height, width, out_h, out_w)
    rcrop = lambda x, p: F.resized_crop(x, *p.tolist()[:4], p.tolist()[4:], antialias=False)  # noqa: E731
    cs.append(case("resized_crop.up", rcrop, with_params(img(3, 9, 11), ints(2, 3, 4, 5, 9, 7))))
    cs.append(case("resized_crop.down", rcrop, with_params(img(3, 12, 10), ints(1, 0, 11, 9, 4, 5))))
    cs.append(case("resized_crop.u8", rcrop, with_params(img(3, 8, 8, torch.uint8), ints(0, 2, 6, 6, 4, 9))))
    cs.append(case("hflip.f32", lambda x: F.hflip(x), img(3, 4, 7)))
    cs.append(case("hflip.u8", lambda x: F.hflip(x), img(1, 3, 6, torch.uint8)))
    # rotate: params = (angle) or (angle, center_x, center_y) or (angle, center_x, center_y, fill);
    # nearest, expand=False
    def rotate(x, p):
        p = p.tolist()
        center = p[1:3] if len(p) >= 3 else None
        fill = [p[3]] if len(p) == 4 else None
        return F.rotate(x, p[0], center=center, fill=fill)
    for name, (c, h, w), params, dtype in [
            ("deg30_odd", (3, 7, 9), [30.0], torch.float32),
            ("deg_minus45_even", (2, 8, 6), [-45.0], torch.float32),
            ("deg90_square", (1, 6, 6), [90.0], torch.float32),
            ("deg90_nonsquare", (3, 5, 8), [90.0], torch.float32),
            ("deg180", (2, 5, 7), [180.0], torch.float32),
            ("deg17_5", (3, 9, 10), [17.5], torch.float32),
            ("deg250", (3, 7, 7), [250.0], torch.float32),
            ("center", (3, 7, 9), [40.0, 2.0, 1.0], torch.float32),
            ("fill", (3, 6, 8), [33.0, 4.0, 3.0, 0.75], torch.float32),
            ("f64", (2, 7, 8), [-23.0], torch.float64),
            ("u8", (3, 8, 9), [61.0], torch.uint8)]:
        cs.append(case(f"rotate.{name}", rotate, with_params(img(c, h, w, dtype), floats(*params))))
    # normalize: params = (mean..., std...) with one entry per channel (or one for all)
    def normalize(x, p):
        p = p.tolist()
        return F.normalize(x, p[:len(p) // 2], p[len(p) // 2:])
    cs.append(case("normalize.rgb", normalize, with_params(img(3, 4, 5), floats(0.485, 0.456, 0.406, 0.229, 0.224, 0.225))))
    cs.append(case("normalize.broadcast", normalize, with_params(img(2, 3, 3), floats(0.5, 0.25))))
    cs.append(case("normalize.f64", normalize, with_params(img(1, 3, 4, torch.float64), floats(0.1307, 0.3081))))
    cs.append(case("to_tensor.u8", lambda x: F.convert_image_dtype(x, torch.float32), img(3, 4, 5, torch.uint8)))
    return cs


def main():
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    header = f"# generated by tests/reference/gen_transforms.py with torch {torch.__version__}; do not edit"
    (OUT / "decode.txt").write_text("\n".join([header] + decode_cases()) + "\n")
    lines = [header]
    for c in transform_cases():
        lines += refcase.run_case(c)
    (OUT / "transforms.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {sorted(p.name for p in OUT.iterdir())}")


if __name__ == "__main__":
    main()
