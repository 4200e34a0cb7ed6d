// A BlurHash decoder (https://blurha.sh, the algorithm as published): turns the manifest's
// placeholder string into a tiny image shown while the real thumbnail loads. The hash is a
// handful of DCT components in base 83; we render them at 32 px (the browser scales it up,
// blurry is the point) onto a canvas and hand back a data: URL for a CSS background.

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
const cache = new Map();

function decode83(str) {
  let value = 0;
  for (const ch of str) {
    const digit = DIGITS.indexOf(ch);
    if (digit < 0) throw new Error('not a blurhash');
    value = value * 83 + digit;
  }
  return value;
}

function srgbToLinear(v) {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

function linearToSrgb(v) {
  const x = Math.max(0, Math.min(1, v));
  return Math.trunc(x <= 0.0031308 ? x * 12.92 * 255 + 0.5 : (1.055 * Math.pow(x, 1 / 2.4) - 0.055) * 255 + 0.5);
}

const signPow = (v, e) => Math.sign(v) * Math.pow(Math.abs(v), e);

// Decodes into RGBA pixels; throws on a malformed hash.
export function decode(hash, width, height) {
  if (typeof hash !== 'string' || hash.length < 6) throw new Error('not a blurhash');
  const sizeFlag = decode83(hash[0]);
  const nx = (sizeFlag % 9) + 1;
  const ny = Math.floor(sizeFlag / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) throw new Error('blurhash length does not match its size');
  const maxAc = (decode83(hash[1]) + 1) / 166;

  const colours = new Array(nx * ny);
  const dc = decode83(hash.slice(2, 6));
  colours[0] = [srgbToLinear(dc >> 16), srgbToLinear((dc >> 8) & 255), srgbToLinear(dc & 255)];
  for (let i = 1; i < colours.length; i++) {
    const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
    colours[i] = [
      signPow((Math.floor(v / 361) - 9) / 9, 2) * maxAc,
      signPow(((Math.floor(v / 19) % 19) - 9) / 9, 2) * maxAc,
      signPow(((v % 19) - 9) / 9, 2) * maxAc,
    ];
  }

  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < ny; j++) {
        const cy = Math.cos((Math.PI * y * j) / height);
        for (let i = 0; i < nx; i++) {
          const basis = Math.cos((Math.PI * x * i) / width) * cy;
          const c = colours[i + j * nx];
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
        }
      }
      const o = 4 * (x + y * width);
      pixels[o] = linearToSrgb(r);
      pixels[o + 1] = linearToSrgb(g);
      pixels[o + 2] = linearToSrgb(b);
      pixels[o + 3] = 255;
    }
  }
  return pixels;
}

// The placeholder object of the API ({type: "blurhash", value, components}) -> data: URL, or
// null when there is none or it does not decode (a placeholder is never worth an error).
export function placeholderUrl(placeholder, size = 32) {
  if (!placeholder || placeholder.type !== 'blurhash' || !placeholder.value) return null;
  const key = placeholder.value;
  if (cache.has(key)) return cache.get(key);
  let url = null;
  try {
    // Keep the photo's rough aspect: components are [x, y] (4x3 landscape, 3x4 portrait).
    const [cx, cy] = Array.isArray(placeholder.components) ? placeholder.components : [4, 3];
    const w = size;
    const hgt = Math.max(8, Math.round((size * (cy || 3)) / (cx || 4)));
    const pixels = decode(placeholder.value, w, hgt);
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = hgt;
    const ctx = canvas.getContext('2d');
    ctx.putImageData(new ImageData(pixels, w, hgt), 0, 0);
    url = canvas.toDataURL('image/png');
  } catch {
    url = null;
  }
  if (cache.size > 500) cache.clear();
  cache.set(key, url);
  return url;
}
