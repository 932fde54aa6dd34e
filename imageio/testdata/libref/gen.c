// gen.c writes the reference files in this folder: small synthetic JPEG and
// WebP images, and what libjpeg-turbo and libwebp (the libraries behind
// cv2.imread) decode from them. It is not part of the Go build. To rerun:
//
//	gcc -O2 -o /tmp/libref gen.c -ljpeg -l:libwebp.so.7 && (cd <this folder> && /tmp/libref)
//
// Made with libjpeg-turbo 2.1.5 and libwebp 1.2.4 (Debian 12). The libwebp
// prototypes are declared here because the -dev package was not installed.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <jpeglib.h>

uint8_t *WebPDecodeRGB(const uint8_t *data, size_t size, int *w, int *h);
uint8_t *WebPDecodeYUV(const uint8_t *data, size_t size, int *w, int *h,
                       uint8_t **u, uint8_t **v, int *stride, int *uv_stride);
size_t WebPEncodeRGB(const uint8_t *rgb, int w, int h, int stride, float q, uint8_t **out);
size_t WebPEncodeRGBA(const uint8_t *rgba, int w, int h, int stride, float q, uint8_t **out);
size_t WebPEncodeLosslessRGBA(const uint8_t *rgba, int w, int h, int stride, uint8_t **out);
size_t WebPEncodeLosslessRGB(const uint8_t *rgb, int w, int h, int stride, uint8_t **out);
void WebPFree(void *p);

static void die(const char *msg) { fprintf(stderr, "%s\n", msg); exit(1); }

static void write_file(const char *name, const uint8_t *b, size_t n) {
  FILE *f = fopen(name, "wb");
  if (!f || fwrite(b, 1, n, f) != n) die(name);
  fclose(f);
}

static uint8_t *read_file(const char *name, size_t *n) {
  FILE *f = fopen(name, "rb");
  if (!f) die(name);
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n);
  if (fread(b, 1, *n, f) != *n) die(name);
  fclose(f);
  return b;
}

// write_pnm writes a P5 (c=1) or P6 (c=3) file.
static void write_pnm(const char *name, const uint8_t *p, int w, int h, int c) {
  FILE *f = fopen(name, "wb");
  if (!f) die(name);
  fprintf(f, "P%d\n%d %d\n255\n", c == 1 ? 5 : 6, w, h);
  fwrite(p, 1, (size_t)w * h * c, f);
  fclose(f);
}

// pattern fills a smooth image with sharp colour edges, so that chroma
// upsampling matters: a diagonal gradient, a red disc and a blue bar.
static void pattern(uint8_t *p, int w, int h, int c, int seed) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t)y * w + x) * c;
      int r = (x * 255) / (w - 1), g = (y * 255) / (h - 1), b = ((x + y + seed * 7) * 3) & 255;
      double dx = x - w * 0.4, dy = y - h * 0.55;
      if (dx * dx + dy * dy < (w * w) / 16.0) { r = 230; g = 20 + seed; b = 30; }
      if (x > w * 0.7 && x < w * 0.8) { r = 10; g = 40; b = 220 - seed; }
      if (((x / 3) + (y / 5)) % 7 == 0) { r ^= 0x55; g ^= 0x33; }
      q[0] = r; q[1] = g; q[2] = b;
      if (c == 4) q[3] = (uint8_t)((x * 37 + y * 11) & 255);
    }
}

// encode_jpeg writes rgb (or 4-channel data in space) with the given
// sampling factors of component 0 (others 1x1).
static void encode_jpeg(const char *name, const uint8_t *p, int w, int h, int nc,
                        J_COLOR_SPACE in, J_COLOR_SPACE out, int h0, int v0, int quality) {
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  unsigned char *mem = NULL;
  unsigned long size = 0;
  jpeg_mem_dest(&ci, &mem, &size);
  ci.image_width = w;
  ci.image_height = h;
  ci.input_components = nc;
  ci.in_color_space = in;
  jpeg_set_defaults(&ci);
  jpeg_set_colorspace(&ci, out);
  jpeg_set_quality(&ci, quality, TRUE);
  if (out == JCS_YCbCr) {
    ci.comp_info[0].h_samp_factor = h0;
    ci.comp_info[0].v_samp_factor = v0;
    for (int i = 1; i < 3; i++) ci.comp_info[i].h_samp_factor = ci.comp_info[i].v_samp_factor = 1;
  }
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = (JSAMPROW)(p + (size_t)ci.next_scanline * w * nc);
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  write_file(name, mem, size);
  free(mem);
}

// decode_jpeg decodes with libjpeg-turbo's defaults (as cv2 does: ISLOW
// IDCT, fancy upsampling) to out_space.
static uint8_t *decode_jpeg(const char *name, J_COLOR_SPACE out_space, int *w, int *h, int *nc) {
  size_t n;
  uint8_t *data = read_file(name, &n);
  struct jpeg_decompress_struct di;
  struct jpeg_error_mgr jerr;
  di.err = jpeg_std_error(&jerr);
  jpeg_create_decompress(&di);
  jpeg_mem_src(&di, data, n);
  jpeg_read_header(&di, TRUE);
  di.out_color_space = out_space;
  jpeg_start_decompress(&di);
  *w = di.output_width;
  *h = di.output_height;
  *nc = di.output_components;
  uint8_t *p = malloc((size_t)*w * *h * *nc);
  while (di.output_scanline < di.output_height) {
    JSAMPROW row = p + (size_t)di.output_scanline * *w * *nc;
    jpeg_read_scanlines(&di, &row, 1);
  }
  jpeg_finish_decompress(&di);
  jpeg_destroy_decompress(&di);
  free(data);
  return p;
}

// raw_planes writes the decoded, not yet upsampled components of a YCbCr
// JPEG as <prefix>.y.pgm, .cb.pgm, .cr.pgm.
static void raw_planes(const char *name, const char *prefix) {
  size_t n;
  uint8_t *data = read_file(name, &n);
  struct jpeg_decompress_struct di;
  struct jpeg_error_mgr jerr;
  di.err = jpeg_std_error(&jerr);
  jpeg_create_decompress(&di);
  jpeg_mem_src(&di, data, n);
  jpeg_read_header(&di, TRUE);
  di.raw_data_out = TRUE;
  jpeg_start_decompress(&di);
  int maxv = di.max_v_samp_factor;
  uint8_t *planes[3];
  int pw[3], ph[3], rows_per_imcu[3];
  JSAMPARRAY bufs[3];
  for (int c = 0; c < 3; c++) {
    jpeg_component_info *ci = &di.comp_info[c];
    pw[c] = ci->downsampled_width;
    ph[c] = ci->downsampled_height;
    rows_per_imcu[c] = ci->v_samp_factor * DCTSIZE;
    planes[c] = malloc((size_t)pw[c] * ph[c]);
    int bw = ci->width_in_blocks * DCTSIZE;
    bufs[c] = malloc(sizeof(JSAMPROW) * rows_per_imcu[c]);
    for (int i = 0; i < rows_per_imcu[c]; i++) bufs[c][i] = malloc(bw);
  }
  int imcu = 0;
  while (di.output_scanline < di.output_height) {
    jpeg_read_raw_data(&di, bufs, maxv * DCTSIZE);
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < rows_per_imcu[c]; i++) {
        int y = imcu * rows_per_imcu[c] + i;
        if (y < ph[c]) memcpy(planes[c] + (size_t)y * pw[c], bufs[c][i], pw[c]);
      }
    imcu++;
  }
  jpeg_finish_decompress(&di);
  const char *suffix[3] = {"y", "cb", "cr"};
  for (int c = 0; c < 3; c++) {
    char fn[256];
    snprintf(fn, sizeof fn, "%s.%s.pgm", prefix, suffix[c]);
    write_pnm(fn, planes[c], pw[c], ph[c], 1);
  }
  jpeg_destroy_decompress(&di);
  free(data);
}

// cv2_cmyk converts libjpeg's CMYK output (Adobe-inverted samples) the way
// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R does, to RGB.
static uint8_t *cv2_cmyk(const uint8_t *p, int w, int h) {
  uint8_t *out = malloc((size_t)w * h * 3);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    int c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2], k = p[4 * i + 3];
    out[3 * i] = k - ((255 - c) * k >> 8);
    out[3 * i + 1] = k - ((255 - m) * k >> 8);
    out[3 * i + 2] = k - ((255 - y) * k >> 8);
  }
  return out;
}

static void jpeg_case(const char *base, int w, int h, int h0, int v0, int seed) {
  char jpg[256], ppm[256];
  uint8_t *rgb = malloc((size_t)w * h * 3);
  pattern(rgb, w, h, 3, seed);
  snprintf(jpg, sizeof jpg, "%s.jpg", base);
  encode_jpeg(jpg, rgb, w, h, 3, JCS_RGB, JCS_YCbCr, h0, v0, 90);
  int ow, oh, nc;
  uint8_t *dec = decode_jpeg(jpg, JCS_RGB, &ow, &oh, &nc);
  snprintf(ppm, sizeof ppm, "%s.libjpeg.ppm", base);
  write_pnm(ppm, dec, ow, oh, 3);
  raw_planes(jpg, base);
  free(rgb);
  free(dec);
}

static void webp_case(const char *base, int w, int h, int alpha, int lossless, int seed) {
  char fn[256];
  uint8_t *px = malloc((size_t)w * h * 4);
  pattern(px, w, h, alpha ? 4 : 3, seed);
  uint8_t *enc = NULL;
  size_t n;
  if (lossless && alpha) n = WebPEncodeLosslessRGBA(px, w, h, w * 4, &enc);
  else if (lossless) n = WebPEncodeLosslessRGB(px, w, h, w * 3, &enc);
  else if (alpha) n = WebPEncodeRGBA(px, w, h, w * 4, 75, &enc);
  else n = WebPEncodeRGB(px, w, h, w * 3, 75, &enc);
  if (!n) die("webp encode");
  snprintf(fn, sizeof fn, "%s.webp", base);
  write_file(fn, enc, n);
  int ow, oh;
  uint8_t *rgb = WebPDecodeRGB(enc, n, &ow, &oh);
  snprintf(fn, sizeof fn, "%s.libwebp.ppm", base);
  write_pnm(fn, rgb, ow, oh, 3);
  WebPFree(rgb);
  if (!lossless) {
    uint8_t *u, *v;
    int stride, uvs;
    uint8_t *y = WebPDecodeYUV(enc, n, &ow, &oh, &u, &v, &stride, &uvs);
    int cw = (ow + 1) / 2, ch = (oh + 1) / 2;
    uint8_t *tmp = malloc((size_t)ow * oh);
    for (int r = 0; r < oh; r++) memcpy(tmp + (size_t)r * ow, y + (size_t)r * stride, ow);
    snprintf(fn, sizeof fn, "%s.y.pgm", base);
    write_pnm(fn, tmp, ow, oh, 1);
    for (int r = 0; r < ch; r++) memcpy(tmp + (size_t)r * cw, u + (size_t)r * uvs, cw);
    snprintf(fn, sizeof fn, "%s.cb.pgm", base);
    write_pnm(fn, tmp, cw, ch, 1);
    for (int r = 0; r < ch; r++) memcpy(tmp + (size_t)r * cw, v + (size_t)r * uvs, cw);
    snprintf(fn, sizeof fn, "%s.cr.pgm", base);
    write_pnm(fn, tmp, cw, ch, 1);
    free(tmp);
    WebPFree(y);
  }
  WebPFree(enc);
  free(px);
}

// cmyk_case writes an Adobe CMYK (transform 0) or YCCK (transform 2) JPEG
// from ink values stored inverted, as Photoshop does, and the RGB cv2 gets.
static void cmyk_case(const char *base, int w, int h, J_COLOR_SPACE space) {
  char fn[256];
  uint8_t *rgb = malloc((size_t)w * h * 3), *cmyk = malloc((size_t)w * h * 4);
  pattern(rgb, w, h, 3, 3);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    int k = 255 - (r > g ? (r > b ? r : b) : (g > b ? g : b));
    int c = 255 - r - k, m = 255 - g - k, y = 255 - b - k;
    // Adobe stores 255 - ink.
    cmyk[4 * i] = 255 - c; cmyk[4 * i + 1] = 255 - m; cmyk[4 * i + 2] = 255 - y; cmyk[4 * i + 3] = 255 - k;
  }
  snprintf(fn, sizeof fn, "%s.jpg", base);
  encode_jpeg(fn, cmyk, w, h, 4, JCS_CMYK, space, 0, 0, 95);
  int ow, oh, nc;
  uint8_t *dec = decode_jpeg(fn, JCS_CMYK, &ow, &oh, &nc);
  uint8_t *out = cv2_cmyk(dec, ow, oh);
  snprintf(fn, sizeof fn, "%s.cv2.ppm", base);
  write_pnm(fn, out, ow, oh, 3);
  free(rgb); free(cmyk); free(dec); free(out);
}

// gray_case writes a gray JPEG and libjpeg's decode.
static void gray_case(const char *base, int w, int h) {
  char fn[256];
  uint8_t *rgb = malloc((size_t)w * h * 3), *g = malloc((size_t)w * h);
  pattern(rgb, w, h, 3, 5);
  for (size_t i = 0; i < (size_t)w * h; i++) g[i] = (rgb[3 * i] + 2 * rgb[3 * i + 1] + rgb[3 * i + 2]) / 4;
  snprintf(fn, sizeof fn, "%s.jpg", base);
  encode_jpeg(fn, g, w, h, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 0, 90);
  int ow, oh, nc;
  uint8_t *dec = decode_jpeg(fn, JCS_GRAYSCALE, &ow, &oh, &nc);
  snprintf(fn, sizeof fn, "%s.libjpeg.pgm", base);
  write_pnm(fn, dec, ow, oh, 1);
  free(rgb); free(g); free(dec);
}

int main(void) {
  jpeg_case("jpeg444", 37, 29, 1, 1, 0);
  jpeg_case("jpeg422", 37, 29, 2, 1, 1);
  jpeg_case("jpeg420", 37, 29, 2, 2, 2);
  jpeg_case("jpeg420even", 48, 32, 2, 2, 3);
  jpeg_case("jpeg440", 37, 29, 1, 2, 4);
  jpeg_case("jpeg411", 37, 29, 4, 1, 5);
  jpeg_case("jpeg420narrow", 4, 9, 2, 2, 6);
  gray_case("jpeggray", 37, 29);
  cmyk_case("jpegcmyk", 37, 29, JCS_CMYK);
  cmyk_case("jpegycck", 37, 29, JCS_YCCK);
  webp_case("webp_odd", 37, 29, 0, 0, 0);
  webp_case("webp_even", 48, 32, 0, 0, 1);
  webp_case("webp_alpha", 33, 20, 1, 0, 2);
  webp_case("webp_lossless", 21, 14, 1, 1, 3);
  webp_case("webp_lossless_opaque", 19, 11, 0, 1, 4);
  return 0;
}
