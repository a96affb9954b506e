"""Small real images for tests, made with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = (320, 240), quality: int = 85) -> bytes:
    image = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x = (seed * 17 + i * 29) % size[0]
        y = (seed * 11 + i * 23) % size[1]
        draw.rectangle([x, y, x + 40, y + 30], fill=((i * 40) % 256, (seed + i * 70) % 256, (i * 90) % 256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()
