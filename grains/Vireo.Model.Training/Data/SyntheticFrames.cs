using Vireo.Model.Imaging;
using Vireo.Model.Inference;

namespace Vireo.Model.Training.Data;

/// <summary>How busy the background behind the content is.</summary>
public enum BackgroundKind
{
    Flat,
    Gradient,
    Stripes,
    Checker,
    Noise,

    /// <summary>A crop of a natural photograph.</summary>
    Photo,

    /// <summary>A procedural texture (fractal noise, turbulence) or a smooth multi-stop gradient.</summary>
    Texture,
}

/// <summary>Which text, if any, the frame carries.</summary>
public enum TextSize
{
    None,

    /// <summary>Glyphs about one ViT patch tall (or less) at tile resolution: needs the 256-token path.</summary>
    Small,

    /// <summary>Glyphs three to four patches tall: readable through the 64-token path.</summary>
    Large,
}

/// <summary>A generated frame, its target answer and the facts the evaluation breaks results down by.</summary>
public sealed record SyntheticSample(
    RgbFrame Frame,
    string Caption,
    string? Text,
    TextSize TextSize,
    BackgroundKind Background,
    int TextTile,
    int ShapeCount,
    int TileCount)
{
    /// <summary>Where the first glyph of <see cref="Text"/> was drawn (frame pixels) and its font scale; null without text.</summary>
    public TextPlacement? Placement { get; init; }

    /// <summary>The line of <see cref="Text"/> as drawn, for the encoder's dense reading labels; null without text.</summary>
    public TextLine? Line { get; init; }

    /// <summary>The font family the text was drawn in; null for the built-in bitmap font or without text.</summary>
    public string? FontFamily { get; init; }

    /// <summary>The shapes the caption names, as drawn.</summary>
    public IReadOnlyList<DrawnShape> Shapes { get; init; } = [];

    /// <summary>The response the model is trained to produce: "red circle top-left; blue square right. text: AB12".</summary>
    public string Answer => new ModelAnswer(Caption, Text).Format();

    public bool BusyBackground => Background is BackgroundKind.Stripes or BackgroundKind.Checker or BackgroundKind.Noise or BackgroundKind.Photo or BackgroundKind.Texture;
}

/// <summary>A frame covered in labelled signs and shapes, for reading pretraining.</summary>
public sealed record ReadingPage(RgbFrame Frame, IReadOnlyList<(string Text, TextPlacement Placement)> Labels, IReadOnlyList<DrawnShape> Shapes);

/// <summary>
/// A shape as drawn: colour and kind indices, centre and half-size in frame pixels, and the 3x3 cell the caption
/// names it by (-1 on reading pages, which have no caption).
/// </summary>
public readonly record struct DrawnShape(int Cell, int Color, int Kind, int Cx, int Cy, int R)
{
    /// <summary>Colours a shape can have (the generator's palette).</summary>
    public const int Colors = 6;

    /// <summary>Circle, square, triangle.</summary>
    public const int Kinds = 3;

    /// <summary>Whether frame pixel (x, y) is painted by this shape (circle, square, or upward triangle).</summary>
    public bool Contains(int x, int y) => Kind switch
    {
        0 => (x - Cx) * (x - Cx) + (y - Cy) * (y - Cy) <= R * R,
        1 => x >= Cx - R && x <= Cx + R && y >= Cy - R && y <= Cy + R,
        // Apex at the top centre, base along the bottom.
        _ => y >= Cy - R && y <= Cy + R && Math.Abs(x - Cx) * 2 * R <= (y - (Cy - R)) * R,
    };
}

/// <summary>Top-left corner of a label's first glyph and the font scale it was drawn at.</summary>
public readonly record struct TextPlacement(int X, int Y, int Scale)
{
    /// <summary>
    /// The cell of character <paramref name="index"/>: its glyph plus the spacing column after it, so the
    /// cells of a label tile its line without gaps.
    /// </summary>
    public (int X, int Y, int W, int H) Cell(int index) =>
        (X + index * BitmapFont.Advance * Scale, Y, BitmapFont.Advance * Scale, BitmapFont.GlyphHeight * Scale);

    /// <summary>The line of <paramref name="length"/> characters starting here, with one cell per character.</summary>
    public TextLine Line(int length)
    {
        var edges = new double[length + 1];
        for (var k = 0; k <= length; k++) edges[k] = k * BitmapFont.Advance * Scale;
        return new TextLine(X, Y, 0, BitmapFont.GlyphHeight * Scale, edges);
    }
}

/// <summary>
/// A line of text as drawn, in frame pixels: (<paramref name="X"/>, <paramref name="Y"/>) is the top-left corner of
/// its first glyph cell, the line runs at <paramref name="Angle"/> radians (clockwise, as y points down), its
/// glyphs are <paramref name="Height"/> tall, and character k covers [Edges[k], Edges[k + 1]) along the line.
/// </summary>
public sealed record TextLine(double X, double Y, double Angle, double Height, double[] Edges)
{
    /// <summary>The index of the character whose cell holds frame point (x, y), or -1.</summary>
    public int CharacterAt(double x, double y)
    {
        var (dx, dy) = (x - X, y - Y);
        var (cos, sin) = (Math.Cos(Angle), Math.Sin(Angle));
        var u = dx * cos + dy * sin;
        var v = -dx * sin + dy * cos;
        if (v < 0 || v >= Height || u < Edges[0] || u >= Edges[^1]) return -1;
        var k = 0;
        while (u >= Edges[k + 1]) k++;
        return k;
    }
}

/// <summary>
/// Seeded synthetic frames drawn straight into RGB24 buffers: a flat to busy background, 0–2 coloured shapes
/// in a 3x3 layout, and an optional 3–6 character label (A–Z, 0–9) on a sign, either small (about one ViT
/// patch tall once tiled, so it only survives the 256-token path) or large. Text never straddles a tile
/// boundary, so exactly one grid tile holds it.
/// </summary>
public sealed class SyntheticFrames(DynamicTiler tiler)
{
    /// <summary>Frame sizes used for training: 1, 3 and 5 tiles after dynamic tiling.</summary>
    public static readonly (int W, int H)[] TrainingSizes =
        [(448, 448), (448, 448), (640, 480), (512, 512), (896, 448), (448, 896), (960, 540), (800, 600), (896, 896)];

    /// <summary>Single-tile sizes: the stage-1 curriculum starts here, where text is easiest to find.</summary>
    public static readonly (int W, int H)[] SingleTileSizes = [(448, 448), (512, 512), (640, 480)];

    /// <summary>Frame sizes for the held-out set, including sizes training never saw.</summary>
    public static readonly (int W, int H)[] EvaluationSizes =
        [(448, 448), (576, 432), (896, 448), (1024, 576), (448, 896), (720, 720), (800, 600), (896, 896)];

    internal static readonly (string Name, byte R, byte G, byte B)[] Colors =
    [
        ("red", 220, 40, 40), ("green", 40, 170, 60), ("blue", 40, 80, 225),
        ("yellow", 240, 215, 40), ("purple", 150, 60, 200), ("orange", 245, 135, 25),
    ];

    internal static readonly string[] Kinds = ["circle", "square", "triangle"];

    internal static readonly string[] Cells =
        ["top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right"];

    /// <param name="rng">The only source of randomness: the same seed gives the same frame.</param>
    /// <param name="sizes">Frame sizes to pick from.</param>
    /// <param name="textProbability">Chance the frame carries text; small and large are equally likely.</param>
    /// <param name="largeTextFraction">Of frames with text, the share whose text is large.</param>
    /// <param name="largeTextScaleBoost">Extra font scale for large text (a curriculum makes text fill more of the tile).</param>
    /// <param name="withShapes">False draws no shapes (a reading-only curriculum).</param>
    public SyntheticSample Generate(Random rng, IReadOnlyList<(int W, int H)> sizes, double textProbability = 0.6, double largeTextFraction = 0.5, int largeTextScaleBoost = 0, bool withShapes = true)
    {
        var (width, height) = sizes[rng.Next(sizes.Count)];
        var frame = RgbFrame.Create(width, height);
        var background = (BackgroundKind)rng.Next(5);
        DrawBackground(frame, background, rng);

        var shapeCount = rng.NextDouble() switch { < 0.15 => 0, < 0.6 => 1, _ => 2 };
        if (!withShapes) shapeCount = 0;
        var shapes = LayOutShapes(rng, width, height, shapeCount);

        string? text = null;
        TextPlacement? placement = null;
        var textSize = TextSize.None;
        var textTile = -1;
        (int X, int Y, int W, int H) textBox = default;
        if (rng.NextDouble() < textProbability)
        {
            textSize = rng.NextDouble() < largeTextFraction ? TextSize.Large : TextSize.Small;
            var grid = tiler.ChooseGrid(width, height);
            // Glyph height at tile resolution: ~10-14 px (one 14-px patch) when small, ~42-56 px when large.
            var yScale = (double)tiler.ImageSize * grid.Rows / height;
            var xScale = (double)tiler.ImageSize * grid.Columns / width;
            var stretch = Math.Max(xScale, yScale);
            var scale = textSize == TextSize.Small
                ? Math.Max(1, (int)Math.Floor(2.0 / stretch + 1e-9))
                : Math.Max(3, (int)Math.Round((6 + rng.Next(3) + rng.Next(largeTextScaleBoost + 1)) / stretch));
            var length = 3 + rng.Next(4);
            var chars = new char[length];
            for (var i = 0; i < length; i++) chars[i] = BitmapFont.Alphabet[rng.Next(BitmapFont.Alphabet.Length)];
            var candidate = new string(chars);
            var pad = Math.Max(2, scale);
            var boxW = BitmapFont.TextWidth(candidate, scale) + 2 * pad;
            var boxH = BitmapFont.TextHeight(scale) + 2 * pad;
            textTile = rng.Next(grid.GridTiles);
            var region = DynamicTiler.TileRegion(grid, textTile, width, height);
            var margin = 4;
            var freeW = (int)region.W - boxW - 2 * margin;
            var freeH = (int)region.H - boxH - 2 * margin;
            if (freeW > 0 && freeH > 0)
            {
                for (var attempt = 0; attempt < 20; attempt++)
                {
                    var x = (int)region.X + margin + rng.Next(freeW);
                    var y = (int)region.Y + margin + rng.Next(freeH);
                    textBox = (x, y, boxW, boxH);
                    if (!shapes.Any(s => Overlaps(textBox, s.Cx - s.R, s.Cy - s.R, 2 * s.R, 2 * s.R))) break;
                }
                // A sign hides whatever it covers: drop shapes it would overlap so the caption stays true.
                shapes.RemoveAll(s => Overlaps(textBox, s.Cx - s.R - 2, s.Cy - s.R - 2, 2 * s.R + 4, 2 * s.R + 4));
                text = candidate;
                DrawShapes(frame, shapes);
                placement = DrawSign(frame, candidate, textBox, pad, scale, dark: rng.Next(2) == 0);
            }
            else
            {
                textSize = TextSize.None;
                textTile = -1;
            }
        }
        if (text is null) DrawShapes(frame, shapes);

        return new SyntheticSample(frame, Caption(shapes), text, textSize, background, textTile, shapes.Count, tiler.ChooseGrid(width, height).TotalTiles)
        {
            Placement = placement,
            Shapes = shapes,
        };
    }

    /// <summary>
    /// A page for the encoder's reading pretraining: a background with up to three shapes and many signs of
    /// random labels at every font scale the tasks use (as seen at tile resolution), each with where it was drawn.
    /// </summary>
    public ReadingPage GenerateReadingPage(Random rng, IReadOnlyList<(int W, int H)> sizes)
    {
        var (width, height) = sizes[rng.Next(sizes.Count)];
        var frame = RgbFrame.Create(width, height);
        DrawBackground(frame, (BackgroundKind)rng.Next(5), rng);
        var grid = tiler.ChooseGrid(width, height);
        var stretch = Math.Max((double)tiler.ImageSize * grid.Columns / width, (double)tiler.ImageSize * grid.Rows / height);
        var labels = new List<(string Text, TextPlacement Placement)>();
        var boxes = new List<(int X, int Y, int W, int H)>();
        var shapes = new List<DrawnShape>();
        for (var i = rng.Next(4); i > 0; i--)
        {
            var r = (int)(Math.Min(width, height) * (0.04 + rng.NextDouble() * 0.07));
            var shape = new DrawnShape(-1, rng.Next(DrawnShape.Colors), rng.Next(DrawnShape.Kinds), r + rng.Next(width - 2 * r), r + rng.Next(height - 2 * r), r);
            var bounds = (X: shape.Cx - r - 2, Y: shape.Cy - r - 2, W: 2 * r + 4, H: 2 * r + 4);
            if (boxes.Any(b => Overlaps(b, bounds.X, bounds.Y, bounds.W, bounds.H))) continue;
            boxes.Add(bounds);
            shapes.Add(shape);
        }
        DrawShapes(frame, shapes);
        var wanted = 4 + rng.Next(12);
        for (var attempt = 0; attempt < 60 && labels.Count < wanted; attempt++)
        {
            // Glyph heights from 14 px (small text) to 56 px (large) at tile resolution.
            var scale = Math.Max(1, (int)Math.Round((2 + rng.Next(7)) / stretch));
            var chars = new char[3 + rng.Next(4)];
            for (var i = 0; i < chars.Length; i++) chars[i] = BitmapFont.Alphabet[rng.Next(BitmapFont.Alphabet.Length)];
            var text = new string(chars);
            var pad = Math.Max(2, scale);
            var box = (X: 0, Y: 0, W: BitmapFont.TextWidth(text, scale) + 2 * pad, H: BitmapFont.TextHeight(scale) + 2 * pad);
            if (box.W >= width - 8 || box.H >= height - 8) continue;
            box.X = 4 + rng.Next(width - box.W - 8);
            box.Y = 4 + rng.Next(height - box.H - 8);
            if (boxes.Any(b => Overlaps(b, box.X - 2, box.Y - 2, box.W + 4, box.H + 4))) continue;
            boxes.Add(box);
            labels.Add((text, DrawSign(frame, text, box, pad, scale, dark: rng.Next(2) == 0)));
        }
        return new ReadingPage(frame, labels, shapes);
    }

    /// <summary>The caption naming <paramref name="shapes"/> by colour, kind and cell, or "no shapes".</summary>
    internal static string Caption(IReadOnlyCollection<DrawnShape> shapes) =>
        ModelAnswer.CaptionOf(shapes.OrderBy(s => s.Cell).Select(s => $"{Colors[s.Color].Name} {Kinds[s.Kind]} {Cells[s.Cell]}"));

    /// <summary>Up to two shapes in distinct cells of the 3x3 layout, in distinct colours, drawing from <paramref name="rng"/>.</summary>
    internal static List<DrawnShape> LayOutShapes(Random rng, int width, int height, int count)
    {
        var cells = Enumerable.Range(0, 9).OrderBy(_ => rng.Next()).Take(count).Order().ToList();
        var shapes = new List<DrawnShape>();
        var usedColors = new HashSet<int>();
        foreach (var cell in cells)
        {
            int color;
            do color = rng.Next(Colors.Length); while (!usedColors.Add(color));
            var kind = rng.Next(Kinds.Length);
            var cw = width / 3.0;
            var ch = height / 3.0;
            var r = (int)(Math.Min(width, height) * (0.06 + rng.NextDouble() * 0.05));
            var cx = (int)((cell % 3 + 0.3 + rng.NextDouble() * 0.4) * cw);
            var cy = (int)((cell / 3 + 0.3 + rng.NextDouble() * 0.4) * ch);
            shapes.Add(new DrawnShape(cell, color, kind, cx, cy, r));
        }
        return shapes;
    }

    private static TextPlacement DrawSign(RgbFrame frame, string text, (int X, int Y, int W, int H) box, int pad, int scale, bool dark)
    {
        var paper = dark ? (byte)15 : (byte)245;
        FillRect(frame, box.X, box.Y, box.W, box.H, paper, paper, paper);
        var ink = dark ? (byte)245 : (byte)10;
        DrawText(frame, text, box.X + pad, box.Y + pad, scale, ink, ink, ink);
        return new TextPlacement(box.X + pad, box.Y + pad, scale);
    }

    internal static bool Overlaps((int X, int Y, int W, int H) a, int x, int y, int w, int h) =>
        a.X < x + w && x < a.X + a.W && a.Y < y + h && y < a.Y + a.H;

    private static void DrawShapes(RgbFrame frame, IEnumerable<DrawnShape> shapes)
    {
        foreach (var s in shapes)
        {
            var c = Colors[s.Color];
            FillWhere(frame, s.Cx - s.R, s.Cy - s.R, 2 * s.R, 2 * s.R, s.Contains, c.R, c.G, c.B);
        }
    }

    private static void DrawBackground(RgbFrame frame, BackgroundKind kind, Random rng)
    {
        var p = frame.Pixels;
        int w = frame.Width, h = frame.Height;
        var a = MutedColor(rng);
        var b = MutedColor(rng);
        var period = 6 + rng.Next(30);
        var vertical = rng.Next(2) == 0;
        var amplitude = 25 + rng.Next(30);
        if (kind == BackgroundKind.Noise)
        {
            // Per pixel, in raster order: the random stream decides every value.
            for (var i = 0; i < p.Length; i += 3)
            {
                var n = rng.Next(-amplitude, amplitude + 1);
                p[i] = Clamp(a.R + n + rng.Next(-8, 9));
                p[i + 1] = Clamp(a.G + n + rng.Next(-8, 9));
                p[i + 2] = Clamp(a.B + n + rng.Next(-8, 9));
            }
            return;
        }
        // The other patterns are a function of (x, y) alone; a row equal to the one above is copied.
        var rowKey = -1;
        for (var y = 0; y < h; y++)
        {
            var key = kind switch
            {
                BackgroundKind.Gradient => vertical ? y : 0,
                BackgroundKind.Stripes => vertical ? 0 : y / period % 2,
                BackgroundKind.Checker => y / period % 2,
                _ => 0,
            };
            var row = p.AsSpan(y * w * 3, w * 3);
            if (key == rowKey)
            {
                p.AsSpan((y - 1) * w * 3, w * 3).CopyTo(row);
                continue;
            }
            rowKey = key;
            for (var x = 0; x < w; x++)
            {
                var c = kind switch
                {
                    BackgroundKind.Gradient => Lerp(a, b, vertical ? (double)y / h : (double)x / w),
                    BackgroundKind.Stripes => ((vertical ? x : y) / period % 2 == 0) ? a : b,
                    BackgroundKind.Checker => ((x / period + y / period) % 2 == 0) ? a : b,
                    _ => a,
                };
                row[3 * x] = Clamp(c.R);
                row[3 * x + 1] = Clamp(c.G);
                row[3 * x + 2] = Clamp(c.B);
            }
        }
    }

    private static (int R, int G, int B) MutedColor(Random rng)
    {
        var l = 70 + rng.Next(120);
        return (l + rng.Next(-20, 21), l + rng.Next(-20, 21), l + rng.Next(-20, 21));
    }

    private static (int R, int G, int B) Lerp((int R, int G, int B) a, (int R, int G, int B) b, double t) =>
        ((int)(a.R + (b.R - a.R) * t), (int)(a.G + (b.G - a.G) * t), (int)(a.B + (b.B - a.B) * t));

    private static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);

    private static void FillRect(RgbFrame frame, int x0, int y0, int w, int h, byte r, byte g, byte b) =>
        FillWhere(frame, x0, y0, w, h, static (_, _) => true, r, g, b);

    private static void FillWhere(RgbFrame frame, int x0, int y0, int w, int h, Func<int, int, bool> inside, byte r, byte g, byte b)
    {
        for (var y = Math.Max(0, y0); y < Math.Min(frame.Height, y0 + h + 1); y++)
            for (var x = Math.Max(0, x0); x < Math.Min(frame.Width, x0 + w + 1); x++)
            {
                if (!inside(x, y)) continue;
                var i = (y * frame.Width + x) * 3;
                frame.Pixels[i] = r;
                frame.Pixels[i + 1] = g;
                frame.Pixels[i + 2] = b;
            }
    }

    /// <summary>Draws <paramref name="text"/> with the built-in 5x7 font, each font pixel a scale x scale block.</summary>
    public static void DrawText(RgbFrame frame, string text, int x0, int y0, int scale, byte r, byte g, byte b)
    {
        for (var k = 0; k < text.Length; k++)
            for (var gy = 0; gy < BitmapFont.GlyphHeight; gy++)
                for (var gx = 0; gx < BitmapFont.GlyphWidth; gx++)
                    if (BitmapFont.Ink(text[k], gx, gy))
                        FillWhere(frame, x0 + (k * BitmapFont.Advance + gx) * scale, y0 + gy * scale, scale - 1, scale - 1, static (_, _) => true, r, g, b);
    }
}
