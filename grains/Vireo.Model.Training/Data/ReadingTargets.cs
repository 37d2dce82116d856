using Vireo.Model.Imaging;

namespace Vireo.Model.Training.Data;

/// <summary>
/// Dense labels for the vision encoder: for every ViT patch of every tile of a frame, the character whose cell
/// holds the patch centre (<see cref="Own"/>), the character before it in the label (<see cref="Previous"/>)
/// and the coloured shape under it (<see cref="Scene"/>). Glyphs too small in a tile to be read there (small text in a thumbnail) are
/// left out of the loss rather than taught as background.
/// </summary>
public sealed class ReadingTargets
{
    /// <summary>Label of a patch that holds no character (own) or of a first character's predecessor (previous).</summary>
    public const long None = 0;

    /// <summary>Patches the loss skips.</summary>
    public const long Ignore = -100;

    /// <summary>Classes of each head: none/start plus one per alphabet character.</summary>
    public static readonly int Classes = 1 + BitmapFont.Alphabet.Length;

    /// <summary>Glyphs shorter than this many tile pixels are not labelled.</summary>
    public const double MinimumGlyphHeight = 9;

    /// <summary>
    /// Glyphs shorter than this many patches in their tile are small text: what the 64-token path, which merges four
    /// by four patches, cannot resolve (small text is drawn with a cap height of about one patch, large text with three
    /// or four).
    /// </summary>
    public const double SmallGlyphPatches = 2;

    private ReadingTargets(long[] own, long[] previous, long[] scene, bool[] small)
    {
        Own = own;
        Previous = previous;
        Scene = scene;
        Small = small;
    }

    /// <summary>[tiles * patches] own-character labels, tile by tile, patches row by row.</summary>
    public long[] Own { get; }

    /// <summary>[tiles * patches] previous-character labels (<see cref="Ignore"/> off the text).</summary>
    public long[] Previous { get; }

    /// <summary>[tiles * patches] the coloured shape under each patch centre (<see cref="SceneClassOf"/>), 0 for none.</summary>
    public long[] Scene { get; }

    /// <summary>[tiles * patches] whether the patch's glyph is small text (<see cref="SmallGlyphPatches"/>).</summary>
    public bool[] Small { get; }

    /// <summary>Classes of the scene head: none plus one per colour and shape kind.</summary>
    public static readonly int SceneClasses = 1 + DrawnShape.Colors * DrawnShape.Kinds;

    public static long ClassOf(char c) => BitmapFont.Alphabet.IndexOf(c) + 1;

    /// <summary>Labels for the tiles <paramref name="tiler"/> cuts from <paramref name="sample"/>'s frame, in its tile order.</summary>
    public static ReadingTargets For(SyntheticSample sample, DynamicTiler tiler, int patchSize) =>
        For(sample.Frame, sample.Text is { } text && (sample.Line ?? sample.Placement?.Line(text.Length)) is { } line ? [(text, line)] : [], sample.Shapes, tiler, patchSize);

    /// <summary>Labels for a reading page's tiles.</summary>
    public static ReadingTargets For(ReadingPage page, DynamicTiler tiler, int patchSize) =>
        For(page.Frame, page.Labels.Select(l => (l.Text, l.Placement.Line(l.Text.Length))).ToList(), page.Shapes, tiler, patchSize);

    private static ReadingTargets For(RgbFrame frame, IReadOnlyList<(string Text, TextLine Line)> lines, IReadOnlyList<DrawnShape> shapes, DynamicTiler tiler, int patchSize)
    {
        var grid = tiler.ChooseGrid(frame.Width, frame.Height);
        var side = tiler.ImageSize / patchSize;
        var patches = side * side;
        var own = new long[grid.TotalTiles * patches];
        var previous = new long[own.Length];
        var scene = new long[own.Length];
        var small = new bool[own.Length];
        Array.Fill(previous, Ignore);
        for (var t = 0; t < grid.TotalTiles; t++)
        {
            var thumbnail = t >= grid.GridTiles;
            // Frame pixels per tile pixel, and the tile's top-left corner in frame pixels.
            var sx = (double)frame.Width / (thumbnail ? tiler.ImageSize : tiler.ImageSize * grid.Columns);
            var sy = (double)frame.Height / (thumbnail ? tiler.ImageSize : tiler.ImageSize * grid.Rows);
            var x0 = thumbnail ? 0 : t % grid.Columns * tiler.ImageSize * sx;
            var y0 = thumbnail ? 0 : t / grid.Columns * tiler.ImageSize * sy;
            for (var py = 0; py < side; py++)
            {
                var fy = y0 + (py + 0.5) * patchSize * sy;
                for (var px = 0; px < side; px++)
                {
                    var fx = x0 + (px + 0.5) * patchSize * sx;
                    var i = t * patches + py * side + px;
                    foreach (var shape in shapes)
                        if (shape.Contains((int)fx, (int)fy)) scene[i] = SceneClassOf(shape);
                    foreach (var (text, line) in lines)
                    {
                        var k = line.CharacterAt(fx, fy);
                        if (k < 0) continue;
                        if (line.Height / sy < MinimumGlyphHeight)
                        {
                            own[i] = Ignore;
                            continue;
                        }
                        own[i] = ClassOf(text[k]);
                        previous[i] = k == 0 ? None : ClassOf(text[k - 1]);
                        small[i] = line.Height / sy < SmallGlyphPatches * patchSize;
                    }
                }
            }
        }
        return new ReadingTargets(own, previous, scene, small);
    }

    /// <summary>1 + colour * kinds + kind: one class per coloured shape kind, 0 for none.</summary>
    public static long SceneClassOf(DrawnShape shape) => 1 + shape.Color * DrawnShape.Kinds + shape.Kind;
}
