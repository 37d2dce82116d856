using SkiaSharp;

namespace Vireo.Model.Training.Data;

/// <summary>One installed font face: its family, style and the file it came from.</summary>
public sealed record FontFace(string Family, string Style, string Path, SKTypeface Typeface);

/// <summary>
/// The TrueType/OpenType fonts found on the machine, grouped by family and split, by family name alone, into the
/// families training draws from and those only the held-out evaluation sees. The split depends on nothing but the
/// name, so a machine that carries only some of the files still puts each family on the same side.
/// </summary>
public sealed class FontCatalog
{
    /// <summary>Where Debian's font packages put their files.</summary>
    public const string SystemFontDirectory = "/usr/share/fonts";

    /// <summary>Environment variable with extra (or replacement) font directories, separated by ':'.</summary>
    public const string DirectoriesVariable = "VIREO_FONT_DIRS";

    /// <summary>
    /// The Debian packages infra/scripts/install.sh installs for this catalogue (listed in infra/scripts/fonts.sh):
    /// the first catalogue's, which the first four real-font fine-tunes trained on, then more training families.
    /// </summary>
    public const string Packages =
        "fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-crosextra-carlito fonts-crosextra-caladea " +
        "fonts-roboto-unhinted fonts-open-sans fonts-lato fonts-noto-mono fonts-ebgaramond fonts-linuxlibertine fonts-firacode " +
        "fonts-inconsolata fonts-urw-base35 fonts-cantarell " +
        "fonts-inter fonts-karla fonts-cabin fonts-clear-sans fonts-b612 fonts-tiresias fonts-oxygen fonts-play fonts-go " +
        "fonts-adf-gillius fonts-sora fonts-manrope fonts-junction fonts-league-spartan fonts-bebas-neue fonts-national-park " +
        "fonts-roadgeek fonts-routed-gothic fonts-opendin fonts-dosis fonts-quicksand fonts-comfortaa fonts-yanone-kaffeesatz " +
        "fonts-jura fonts-beteckna fonts-allerta fonts-roboto-slab fonts-vollkorn fonts-sil-gentium fonts-quattrocento " +
        "fonts-fanwood fonts-lindenhill fonts-cardo fonts-courier-prime fonts-jetbrains-mono fonts-hack fonts-anonymous-pro fonts-ocr-b";

    /// <summary>Families never used: symbols, dingbats, scripts, keycaps and initials carry no plain letters to read.</summary>
    private static readonly string[] Excluded = ["D050000L", "Standard Symbols PS", "Z003", "Linux Biolinum Keyboard O", "Linux Libertine Initials O", "DejaVu Math TeX Gyre"];

    /// <summary>
    /// Families kept out of training, one of each kind: a humanist sans, a serif, a monospace and a geometric sans.
    /// Their near relatives (Open Sans Condensed) go with them.
    /// </summary>
    public static readonly IReadOnlyList<string> HeldOutFamilies = ["Open Sans", "Open Sans Condensed", "Caladea", "Noto Mono", "Noto Sans Mono", "URW Gothic"];

    /// <summary>At least this many held-out families must be present, or the evaluation would measure too little.</summary>
    public const int MinimumHeldOutFamilies = 3;

    /// <summary>At least this many training families must be present.</summary>
    public const int MinimumTrainingFamilies = 8;

    private FontCatalog(IReadOnlyList<FontFace> training, IReadOnlyList<FontFace> heldOut)
    {
        Training = training;
        HeldOut = heldOut;
    }

    /// <summary>Faces of the training families, ordered by family, style and path.</summary>
    public IReadOnlyList<FontFace> Training { get; }

    /// <summary>Faces of the held-out families, in the same order.</summary>
    public IReadOnlyList<FontFace> HeldOut { get; }

    public IEnumerable<string> TrainingFamilies => Training.Select(f => f.Family).Distinct();

    public IEnumerable<string> HeldOutFamilyNames => HeldOut.Select(f => f.Family).Distinct();

    private static readonly CatalogFolders<FontCatalog> Folders = new(DirectoriesVariable, SystemFontDirectory, Discover);

    /// <summary>The directories searched: <see cref="DirectoriesVariable"/> when set, else <see cref="SystemFontDirectory"/>.</summary>
    public static IReadOnlyList<string> DefaultDirectories() => Folders.Defaults();

    /// <summary>The catalogue of the default directories, loaded once per process.</summary>
    public static FontCatalog Default() => Load(DefaultDirectories());

    /// <summary>Loads (once per set of directories) every usable face under <paramref name="directories"/>.</summary>
    /// <exception cref="InvalidOperationException">Too few training or held-out families were found.</exception>
    public static FontCatalog Load(IReadOnlyList<string> directories) => Folders.Load(directories);

    private static FontCatalog Discover(IReadOnlyList<string> directories)
    {
        var faces = new List<FontFace>();
        var files = CatalogFolders<FontCatalog>.Files(directories, ".ttf", ".otf").Order(StringComparer.Ordinal);
        var seen = new HashSet<(string, string)>();
        foreach (var file in files)
        {
            var typeface = SKTypeface.FromFile(file);
            if (typeface is null) continue;
            var family = typeface.FamilyName;
            var style = $"{typeface.FontWeight}-{typeface.FontWidth}-{typeface.FontSlant}";
            // The same face in two packages (or two formats) counts once.
            if (Excluded.Contains(family) || !Reads(typeface) || !seen.Add((family, style)))
            {
                typeface.Dispose();
                continue;
            }
            faces.Add(new FontFace(family, style, file, typeface));
        }
        var ordered = faces.OrderBy(f => f.Family, StringComparer.Ordinal).ThenBy(f => f.Style, StringComparer.Ordinal).ThenBy(f => f.Path, StringComparer.Ordinal).ToList();
        var heldOut = ordered.Where(f => HeldOutFamilies.Contains(f.Family)).ToList();
        var training = ordered.Where(f => !HeldOutFamilies.Contains(f.Family)).ToList();
        var catalog = new FontCatalog(training, heldOut);
        var trainingCount = catalog.TrainingFamilies.Count();
        var heldOutCount = catalog.HeldOutFamilyNames.Count();
        if (trainingCount < MinimumTrainingFamilies || heldOutCount < MinimumHeldOutFamilies)
            throw new InvalidOperationException(
                $"Found {trainingCount} training and {heldOutCount} held-out font families under {string.Join(", ", directories)}; " +
                $"real-font frames need at least {MinimumTrainingFamilies} and {MinimumHeldOutFamilies}. " +
                $"Install the font packages (infra/scripts/install.sh, or apt-get install {Packages}) " +
                $"or point {DirectoriesVariable} at folders holding .ttf/.otf files.");
        return catalog;
    }

    /// <summary>Whether the face has its own glyph for every character the model reads.</summary>
    private static bool Reads(SKTypeface typeface)
    {
        var glyphs = typeface.GetGlyphs(BitmapFont.Alphabet);
        return glyphs.Length == BitmapFont.Alphabet.Length && glyphs.All(g => g != 0);
    }
}
