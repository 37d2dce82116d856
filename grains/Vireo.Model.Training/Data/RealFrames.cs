using SkiaSharp;
using Vireo.Model.Imaging;
using Vireo.Model.Inference;

namespace Vireo.Model.Training.Data;

/// <summary>
/// Seeded frames drawn the way video frames look, with SkiaSharp: a crop of a natural photograph, a procedural
/// texture, a gradient or one of the synthetic patterns; sometimes the known shapes of <see cref="SyntheticFrames"/>;
/// sometimes a 3–6 character label (A–Z, 0–9) in a TrueType/OpenType font, rotated, coloured, outlined, shadowed or
/// blurred, on a plate or straight on the picture; then, at times, blur, sensor noise and JPEG re-compression.
/// Small and large text mean what they mean for <see cref="SyntheticFrames"/> (glyphs about one ViT patch tall at tile
/// resolution, or three to four), and text stays inside one grid tile. Frames without text and shapes answer
/// "no shapes. text: none". The same seed gives the same frame.
/// </summary>
/// <param name="tiler">The model's tiler: text size is set at tile resolution, and text stays inside one grid tile.</param>
/// <param name="fonts">The installed fonts.</param>
/// <param name="photos">The installed photographs.</param>
/// <param name="heldOut">Draw from the held-out font families and photographs instead of the training ones.</param>
/// <param name="atTileScale">
/// Draw each frame larger than its tile grid at the grid's scale (<see cref="AtTileScale"/>): the same tiles from fewer
/// pixels.
/// </param>
/// <param name="varyGlyphs">
/// Draw each label's glyphs narrower or wider, slanted either way and at times heavier than its font draws them
/// (<see cref="GlyphVariation"/>), so that a few dozen families stand for many more. Off draws every font as it is.
/// </param>
/// <param name="h264Fraction">
/// Share of frames coded as an H.264 intra picture (<see cref="H264Intra"/>, QP <see cref="H264MinQp"/> to
/// <see cref="H264MaxQp"/>) after their sensor noise, instead of JPEG re-compression. 0 draws exactly the frames drawn
/// before it existed.
/// </param>
public sealed class RealFrames(
    DynamicTiler tiler, FontCatalog fonts, PhotoCatalog photos, bool heldOut = false, bool atTileScale = false, bool varyGlyphs = false, double h264Fraction = 0)
{
    /// <summary>The QPs an H.264-coded frame is drawn at: from what streaming services send to a starved link's.</summary>
    public const int H264MinQp = 24, H264MaxQp = 40;

    /// <summary>Frame sizes for training: square and video shapes that tile into 1 to 5 tiles.</summary>
    public static readonly (int W, int H)[] TrainingSizes =
        [(448, 448), (640, 360), (854, 480), (640, 480), (960, 540), (1280, 720), (480, 854), (720, 1280), (800, 600), (1024, 768), (896, 448)];

    /// <summary>Single-tile sizes, for the curriculum.</summary>
    public static readonly (int W, int H)[] SingleTileSizes = [(448, 448), (512, 512), (640, 480)];

    /// <summary>Sizes of real video for the held-out set: 16:9 at 720p and 1080p, 4:3, and 9:16 portrait.</summary>
    public static readonly (int W, int H)[] EvaluationSizes =
        [(1280, 720), (1920, 1080), (640, 480), (1024, 768), (720, 1280), (1080, 1920)];

    /// <summary>The training sizes and the sizes of real video that are not among them.</summary>
    public static readonly (int W, int H)[] TrainingAndVideoSizes = [.. TrainingSizes.Union(EvaluationSizes)];

    /// <summary>
    /// <paramref name="size"/> scaled down, aspect ratio kept, to the smallest size that still covers the tile grid
    /// <paramref name="tiler"/> chooses for it, and that gets the same grid; a size no larger than its grid stays as it
    /// is. A generator made with <c>atTileScale</c> draws a frame of the nominal size at this size, from the same seed
    /// with the same content (photograph crop, text and shapes, at the same cap height in tile pixels) and with its
    /// pixel-sized detail (texture grain, pattern period, defocus, sensor noise) made smaller in proportion. Only the
    /// JPEG blocks keep their 8 pixels, so they are coarser at tile resolution than a full frame's.
    /// </summary>
    public static (int W, int H) AtTileScale((int W, int H) size, DynamicTiler tiler)
    {
        var grid = tiler.ChooseGrid(size.W, size.H);
        var scale = Math.Max((double)tiler.ImageSize * grid.Columns / size.W, (double)tiler.ImageSize * grid.Rows / size.H);
        if (scale >= 1) return size;
        var (width, height) = (tiler.ImageSize * grid.Columns, tiler.ImageSize * grid.Rows);
        (width, height) = (Math.Max(width, (int)Math.Round(size.W * scale)), Math.Max(height, (int)Math.Round(size.H * scale)));
        return tiler.ChooseGrid(width, height) == grid ? (width, height) : size;
    }

    /// <summary>
    /// How <c>varyGlyphs</c> changes a font: horizontal scale drawn from [<see cref="MinScaleX"/>,
    /// <see cref="MaxScaleX"/>], a slant of up to <see cref="MaxSkew"/> (horizontal shift per unit of height) to the right
    /// or to the left, and a synthetic bold on one label in <see cref="EmboldenOneIn"/>.
    /// </summary>
    public static class GlyphVariation
    {
        public const float MinScaleX = 0.8f, MaxScaleX = 1.25f, MaxSkew = 0.2f;
        public const int EmboldenOneIn = 4;
    }

    /// <summary>Cap height at tile resolution of small text: about one 14-px ViT patch.</summary>
    public const double SmallCapMin = 10, SmallCapMax = 14;

    /// <summary>Cap height at tile resolution of large text: three to four patches.</summary>
    public const double LargeCapMin = 36, LargeCapMax = 56;

    private IReadOnlyList<FontFace> Faces => heldOut ? fonts.HeldOut : fonts.Training;

    private IReadOnlyList<Photo> Photos => heldOut ? photos.HeldOut : photos.Training;

    /// <param name="rng">The only source of randomness.</param>
    /// <param name="sizes">Frame sizes to pick from.</param>
    /// <param name="textProbability">Chance the frame carries text.</param>
    /// <param name="largeTextFraction">Of frames with text, the share whose text is large.</param>
    /// <param name="shapeProbability">Chance the frame carries one or two known shapes.</param>
    public SyntheticSample Generate(Random rng, IReadOnlyList<(int W, int H)> sizes, double textProbability = 0.6, double largeTextFraction = 0.5, double shapeProbability = 0.35)
    {
        var nominal = sizes[rng.Next(sizes.Count)];
        var (width, height) = atTileScale ? AtTileScale(nominal, tiler) : nominal;
        // Frame pixels per pixel of the nominal frame: detail sized in pixels is drawn this much smaller.
        var detail = (double)width / nominal.W;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        var background = DrawBackground(canvas, width, height, detail, rng);

        var shapes = rng.NextDouble() < shapeProbability ? SyntheticFrames.LayOutShapes(rng, width, height, 1 + rng.Next(2)) : [];
        var grid = tiler.ChooseGrid(width, height);
        string? text = null;
        TextLine? line = null;
        string? family = null;
        var textSize = TextSize.None;
        var textTile = -1;
        if (rng.NextDouble() < textProbability)
        {
            var size = rng.NextDouble() < largeTextFraction ? TextSize.Large : TextSize.Small;
            var label = RandomLabel(rng);
            var face = Faces[rng.Next(Faces.Count)];
            var tile = rng.Next(grid.GridTiles);
            if (PlaceText(canvas, bitmap, rng, grid, tile, width, height, detail, label, face, size, shapes) is { } drawn)
            {
                (text, line, family, textSize, textTile) = (label, drawn, face.Family, size, tile);
            }
        }
        DrawShapes(canvas, shapes);
        canvas.Flush();

        var frame = Degrade(bitmap, detail, rng, h264Fraction);
        return new SyntheticSample(frame, SyntheticFrames.Caption(shapes), text, textSize, background, textTile, shapes.Count, grid.TotalTiles)
        {
            Line = line,
            FontFamily = family,
            Shapes = shapes,
        };
    }

    private static string RandomLabel(Random rng)
    {
        var chars = new char[3 + rng.Next(4)];
        for (var i = 0; i < chars.Length; i++) chars[i] = BitmapFont.Alphabet[rng.Next(BitmapFont.Alphabet.Length)];
        return new string(chars);
    }

    private BackgroundKind DrawBackground(SKCanvas canvas, int width, int height, double detail, Random rng)
    {
        var pick = rng.NextDouble();
        if (pick < 0.55)
        {
            DrawPhoto(canvas, width, height, Photos[rng.Next(Photos.Count)].Image, rng);
            return BackgroundKind.Photo;
        }
        if (pick < 0.75)
        {
            DrawTexture(canvas, width, height, detail, rng);
            return BackgroundKind.Texture;
        }
        if (pick < 0.87)
        {
            DrawGradient(canvas, width, height, rng);
            return BackgroundKind.Gradient;
        }
        var kind = rng.Next(3) switch { 0 => BackgroundKind.Flat, 1 => BackgroundKind.Stripes, _ => BackgroundKind.Checker };
        DrawPattern(canvas, width, height, kind, detail, rng);
        return kind;
    }

    /// <summary>A random crop of the photograph with the frame's aspect ratio, maybe mirrored, with colour jitter.</summary>
    private static void DrawPhoto(SKCanvas canvas, int width, int height, SKImage photo, Random rng)
    {
        var aspect = (double)width / height;
        var (cropW, cropH) = aspect > (double)photo.Width / photo.Height ? (photo.Width, photo.Width / aspect) : (photo.Height * aspect, (double)photo.Height);
        var zoom = 0.35 + 0.65 * rng.NextDouble();
        cropW *= zoom;
        cropH *= zoom;
        var x = rng.NextDouble() * (photo.Width - cropW);
        var y = rng.NextDouble() * (photo.Height - cropH);
        var mirror = rng.Next(2) == 0;
        // The photograph is opaque and covers the frame: copying it (Src) gives the pixels blending over would, for less.
        using var paint = new SKPaint { ColorFilter = Jitter(rng), BlendMode = SKBlendMode.Src };
        canvas.Save();
        if (mirror)
        {
            canvas.Translate(width, 0);
            canvas.Scale(-1, 1);
        }
        canvas.DrawImage(photo, new SKRect((float)x, (float)y, (float)(x + cropW), (float)(y + cropH)), new SKRect(0, 0, width, height),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None), paint);
        canvas.Restore();
    }

    /// <summary>Brightness, contrast and saturation changes, as exposure and grading vary between cameras.</summary>
    private static SKColorFilter Jitter(Random rng)
    {
        var contrast = (float)(0.75 + 0.5 * rng.NextDouble());
        var brightness = (float)((rng.NextDouble() - 0.5) * 0.3);
        var saturation = (float)(0.6 + 0.7 * rng.NextDouble());
        var (lr, lg, lb) = (0.2126f * (1 - saturation), 0.7152f * (1 - saturation), 0.0722f * (1 - saturation));
        var offset = brightness + (1 - contrast) * 0.5f;
        float[] matrix =
        [
            contrast * (lr + saturation), contrast * lg, contrast * lb, 0, offset,
            contrast * lr, contrast * (lg + saturation), contrast * lb, 0, offset,
            contrast * lr, contrast * lg, contrast * (lb + saturation), 0, offset,
            0, 0, 0, 1, 0,
        ];
        return SKColorFilter.CreateColorMatrix(matrix);
    }

    /// <summary>
    /// Fractal noise or turbulence over a flat colour. Noise shaders cost much per pixel, so the texture is drawn at a
    /// quarter of the frame's size and scaled up: its detail is coarse anyway.
    /// </summary>
    private static void DrawTexture(SKCanvas canvas, int width, int height, double detail, Random rng)
    {
        const int Reduction = 4;
        var (w, h) = (Math.Max(1, width / Reduction), Math.Max(1, height / Reduction));
        var frequency = (float)((0.002 + 0.04 * rng.NextDouble() * rng.NextDouble()) * Reduction / detail);
        var octaves = 1 + rng.Next(4);
        var stretch = (float)(0.3 + rng.NextDouble() * 1.4);
        var seed = rng.Next(1000);
        using var noise = rng.Next(2) == 0
            ? SKShader.CreatePerlinNoiseFractalNoise(frequency, frequency * stretch, octaves, seed)
            : SKShader.CreatePerlinNoiseTurbulence(frequency, frequency * stretch, octaves, seed);
        using var small = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var smallCanvas = new SKCanvas(small))
        {
            smallCanvas.DrawColor(RandomColor(rng, 40, 220));
            using var paint = new SKPaint { Shader = noise, BlendMode = rng.Next(2) == 0 ? SKBlendMode.Overlay : SKBlendMode.Multiply, ColorFilter = Jitter(rng) };
            smallCanvas.DrawRect(0, 0, w, h, paint);
        }
        using var image = SKImage.FromBitmap(small);
        using var copy = new SKPaint { BlendMode = SKBlendMode.Src };
        canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.Mitchell), copy);
    }

    private static void DrawGradient(SKCanvas canvas, int width, int height, Random rng)
    {
        var stops = 2 + rng.Next(3);
        var colors = Enumerable.Range(0, stops).Select(_ => RandomColor(rng, 20, 235)).ToArray();
        var start = new SKPoint((float)(rng.NextDouble() * width), (float)(rng.NextDouble() * height));
        using var shader = rng.Next(2) == 0
            ? SKShader.CreateLinearGradient(start, new SKPoint((float)(rng.NextDouble() * width), (float)(rng.NextDouble() * height)), colors, SKShaderTileMode.Mirror)
            : SKShader.CreateRadialGradient(start, (float)(Math.Max(width, height) * (0.3 + rng.NextDouble())), colors, SKShaderTileMode.Clamp);
        using var paint = new SKPaint { Shader = shader, BlendMode = SKBlendMode.Src };
        canvas.DrawRect(0, 0, width, height, paint);
    }

    private static void DrawPattern(SKCanvas canvas, int width, int height, BackgroundKind kind, double detail, Random rng)
    {
        var a = RandomColor(rng, 60, 200);
        var b = RandomColor(rng, 60, 200);
        canvas.DrawColor(a);
        if (kind == BackgroundKind.Flat) return;
        var period = (6 + rng.Next(30)) * detail;
        var vertical = rng.Next(2) == 0;
        using var paint = new SKPaint { Color = b };
        for (var i = 0; i * period < Math.Max(width, height); i++)
        {
            if (kind == BackgroundKind.Stripes)
            {
                if (i % 2 == 1) continue;
                if (vertical) canvas.DrawRect((float)(i * period), 0, (float)period, height, paint);
                else canvas.DrawRect(0, (float)(i * period), width, (float)period, paint);
                continue;
            }
            for (var j = 0; j * period < Math.Max(width, height); j++)
                if ((i + j) % 2 == 1) canvas.DrawRect((float)(i * period), (float)(j * period), (float)period, (float)period, paint);
        }
    }

    private static SKColor RandomColor(Random rng, int min, int max) =>
        new((byte)rng.Next(min, max + 1), (byte)rng.Next(min, max + 1), (byte)rng.Next(min, max + 1));

    /// <summary>
    /// Draws the label inside grid tile <paramref name="tile"/> and returns its line, or null when it does not fit.
    /// Shapes under the label are dropped so the caption stays true.
    /// </summary>
    private TextLine? PlaceText(SKCanvas canvas, SKBitmap bitmap, Random rng, TileGrid grid, int tile, int width, int height, double detail, string label, FontFace face, TextSize size, List<DrawnShape> shapes)
    {
        // Frame pixels per tile pixel: the tile is this much smaller than the frame region it covers.
        var tilePerFrame = Math.Max((double)tiler.ImageSize * grid.Columns / width, (double)tiler.ImageSize * grid.Rows / height);
        var capTile = size == TextSize.Small
            ? SmallCapMin + rng.NextDouble() * (SmallCapMax - SmallCapMin)
            : LargeCapMin + rng.NextDouble() * (LargeCapMax - LargeCapMin);
        var cap = capTile / tilePerFrame;
        using var font = new SKFont(face.Typeface, 100) { Edging = SKFontEdging.Antialias, Subpixel = true, Hinting = SKFontHinting.Slight };
        var capRatio = font.Metrics.CapHeight > 0 ? font.Metrics.CapHeight / 100 : 0.7f;
        font.Size = (float)(cap / capRatio);
        if (varyGlyphs)
        {
            font.ScaleX = GlyphVariation.MinScaleX + (float)rng.NextDouble() * (GlyphVariation.MaxScaleX - GlyphVariation.MinScaleX);
            font.SkewX = ((float)rng.NextDouble() * 2 - 1) * GlyphVariation.MaxSkew;
            font.Embolden = rng.Next(GlyphVariation.EmboldenOneIn) == 0;
        }
        var widths = font.GetGlyphWidths(label);
        var edges = new double[label.Length + 1];
        for (var k = 0; k < label.Length; k++) edges[k + 1] = edges[k] + widths[k];
        var lineWidth = edges[^1];
        var maxDegrees = size == TextSize.Small ? 4 : 12;
        var angle = rng.Next(3) == 0 ? 0 : (rng.NextDouble() * 2 - 1) * maxDegrees * Math.PI / 180;
        var plate = rng.NextDouble() < 0.35;
        var pad = cap * (plate ? 0.35 : 0.2);

        // The label's box in its own frame (u along the line, v down from the cap line), rotated into the frame.
        var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
        double[] us = [-pad, lineWidth + pad, lineWidth + pad, -pad];
        double[] vs = [-pad, -pad, cap + pad, cap + pad];
        var xs = us.Zip(vs, (u, v) => u * cos - v * sin).ToArray();
        var ys = us.Zip(vs, (u, v) => u * sin + v * cos).ToArray();
        var (boxW, boxH) = (xs.Max() - xs.Min(), ys.Max() - ys.Min());
        var region = DynamicTiler.TileRegion(grid, tile, width, height);
        var margin = 4 * detail;
        var freeW = region.W - boxW - 2 * margin;
        var freeH = region.H - boxH - 2 * margin;
        if (freeW <= 0 || freeH <= 0) return null;
        var left = region.X + margin + rng.NextDouble() * freeW;
        var top = region.Y + margin + rng.NextDouble() * freeH;
        // Origin: the top-left corner of the first glyph cell.
        var originX = left - xs.Min();
        var originY = top - ys.Min();
        var box = ((int)left, (int)top, (int)Math.Ceiling(boxW), (int)Math.Ceiling(boxH));
        shapes.RemoveAll(s => SyntheticFrames.Overlaps(box, s.Cx - s.R - 2, s.Cy - s.R - 2, 2 * s.R + 4, 2 * s.R + 4));

        var under = MeanLuminance(bitmap, box);
        SKColor ink;
        canvas.Save();
        canvas.Translate((float)originX, (float)originY);
        canvas.RotateRadians((float)angle);
        if (plate)
        {
            var paper = rng.Next(2) == 0 ? RandomColor(rng, 200, 255) : RandomColor(rng, 0, 60);
            ink = Luminance(paper) > 128 ? RandomColor(rng, 0, 70) : RandomColor(rng, 190, 255);
            using var platePaint = new SKPaint { Color = paper, IsAntialias = true };
            canvas.DrawRoundRect(new SKRect((float)-pad, (float)-pad, (float)(lineWidth + pad), (float)(cap + pad)), (float)(pad * 0.5 * rng.NextDouble()), (float)(pad * 0.5 * rng.NextDouble()), platePaint);
        }
        else
        {
            ink = under > 128 ? RandomColor(rng, 0, 70) : RandomColor(rng, 190, 255);
            if (rng.NextDouble() < 0.3)
            {
                // A saturated colour, as in titles and signs, kept apart from the background's brightness.
                var hue = (float)(rng.NextDouble() * 360);
                ink = SKColor.FromHsl(hue, 90, under > 128 ? 25 : 75);
            }
        }
        var contrasting = Luminance(ink) > 128 ? new SKColor(10, 10, 10) : new SKColor(245, 245, 245);
        var blur = rng.NextDouble() < 0.25 ? (float)((0.3 + 0.6 * rng.NextDouble()) / tilePerFrame) : 0;
        using var maskBlur = blur > 0 ? SKMaskFilter.CreateBlur(SKBlurStyle.Normal, blur) : null;
        if (!plate && rng.NextDouble() < 0.3)
        {
            var offset = (float)(cap * (0.05 + 0.07 * rng.NextDouble()));
            using var shadowBlur = SKMaskFilter.CreateBlur(SKBlurStyle.Normal, (float)(cap * 0.05 + 0.5 * detail));
            using var shadow = new SKPaint { Color = contrasting.WithAlpha((byte)rng.Next(150, 240)), IsAntialias = true, MaskFilter = shadowBlur };
            canvas.DrawText(label, offset, (float)cap + offset, SKTextAlign.Left, font, shadow);
        }
        if (!plate && rng.NextDouble() < 0.3)
        {
            using var outline = new SKPaint
            {
                Color = contrasting, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeJoin = SKStrokeJoin.Round,
                StrokeWidth = (float)(cap * (0.06 + 0.08 * rng.NextDouble())), MaskFilter = maskBlur,
            };
            canvas.DrawText(label, 0, (float)cap, SKTextAlign.Left, font, outline);
        }
        using (var fill = new SKPaint { Color = ink, IsAntialias = true, MaskFilter = maskBlur })
            canvas.DrawText(label, 0, (float)cap, SKTextAlign.Left, font, fill);
        canvas.Restore();
        return new TextLine(originX, originY, angle, cap, edges);
    }

    private static double MeanLuminance(SKBitmap bitmap, (int X, int Y, int W, int H) box)
    {
        double sum = 0;
        var n = 0;
        for (var j = 0; j < 8; j++)
            for (var i = 0; i < 8; i++)
            {
                var x = Math.Clamp(box.X + (int)((i + 0.5) * box.W / 8), 0, bitmap.Width - 1);
                var y = Math.Clamp(box.Y + (int)((j + 0.5) * box.H / 8), 0, bitmap.Height - 1);
                sum += Luminance(bitmap.GetPixel(x, y));
                n++;
            }
        return sum / n;
    }

    private static double Luminance(SKColor c) => 0.2126 * c.Red + 0.7152 * c.Green + 0.0722 * c.Blue;

    private static void DrawShapes(SKCanvas canvas, IEnumerable<DrawnShape> shapes)
    {
        foreach (var s in shapes)
        {
            var c = SyntheticFrames.Colors[s.Color];
            using var paint = new SKPaint { Color = new SKColor(c.R, c.G, c.B), IsAntialias = true };
            switch (s.Kind)
            {
                case 0:
                    canvas.DrawCircle(s.Cx, s.Cy, s.R, paint);
                    break;
                case 1:
                    canvas.DrawRect(s.Cx - s.R, s.Cy - s.R, 2 * s.R, 2 * s.R, paint);
                    break;
                default:
                    using (var builder = new SKPathBuilder())
                    {
                        builder.MoveTo(s.Cx, s.Cy - s.R);
                        builder.LineTo(s.Cx + s.R, s.Cy + s.R);
                        builder.LineTo(s.Cx - s.R, s.Cy + s.R);
                        builder.Close();
                        using var path = builder.Detach();
                        canvas.DrawPath(path, paint);
                    }
                    break;
            }
        }
    }

    /// <summary>What a camera and an encoder do to a frame: a little defocus, sensor noise, JPEG blocks or H.264 coding.</summary>
    private static RgbFrame Degrade(SKBitmap bitmap, double detail, Random rng, double h264Fraction)
    {
        var blurSigma = rng.NextDouble() < 0.2 ? (float)((0.4 + 0.8 * rng.NextDouble()) * detail) : 0;
        // Grain a frame is scaled down by 1/detail loses that much of its spread: drawn smaller, it is drawn weaker.
        var noise = rng.NextDouble() < 0.3 ? (int)Math.Round((2 + rng.Next(9)) * detail) : 0;
        var quality = rng.NextDouble() < 0.5 ? 25 + rng.Next(66) : 0;
        var noiseSeed = (uint)rng.Next() | 1;
        // Drawn only when asked for, so that without it the random sequence, and every frame, is as before.
        var qp = h264Fraction > 0 && rng.NextDouble() < h264Fraction ? H264MinQp + rng.Next(H264MaxQp - H264MinQp + 1) : 0;
        if (qp > 0)
            quality = 0;
        var source = bitmap;
        SKBitmap? blurred = null;
        SKBitmap? decoded = null;
        try
        {
            if (blurSigma > 0)
            {
                blurred = new SKBitmap(bitmap.Info);
                using var canvas = new SKCanvas(blurred);
                using var filter = SKImageFilter.CreateBlur(blurSigma, blurSigma, SKShaderTileMode.Clamp);
                using var paint = new SKPaint { ImageFilter = filter };
                canvas.DrawBitmap(bitmap, 0, 0, new SKSamplingOptions(SKFilterMode.Linear), paint);
                canvas.Flush();
                source = blurred;
            }
            if (quality > 0)
            {
                using var image = SKImage.FromBitmap(source);
                using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, quality);
                decoded = SKBitmap.Decode(jpeg, new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
                source = decoded;
            }
            var rgba = source.GetPixelSpan();
            if (noise == 0)
                return Encoded(RgbFrame.FromRgba(rgba, bitmap.Width, bitmap.Height), qp);
            var frame = RgbFrame.Create(bitmap.Width, bitmap.Height);
            var rgb = frame.Pixels;
            var state = noiseSeed;
            for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
            {
                // xorshift32: cheap per-pixel grain, the same for the same seed.
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                var n = (int)(state % (uint)(2 * noise + 1)) - noise;
                rgb[o] = (byte)Math.Clamp(rgba[i] + n, 0, 255);
                rgb[o + 1] = (byte)Math.Clamp(rgba[i + 1] + n, 0, 255);
                rgb[o + 2] = (byte)Math.Clamp(rgba[i + 2] + n, 0, 255);
            }
            return Encoded(frame, qp);
        }
        finally
        {
            blurred?.Dispose();
            decoded?.Dispose();
        }

        static RgbFrame Encoded(RgbFrame frame, int qp)
        {
            if (qp > 0)
                H264Intra.Recompress(frame.Pixels, frame.Width, frame.Height, qp);
            return frame;
        }
    }
}
