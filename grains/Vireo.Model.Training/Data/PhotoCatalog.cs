using SkiaSharp;

namespace Vireo.Model.Training.Data;

/// <summary>A decoded photograph used as a background.</summary>
public sealed record Photo(string Name, SKImage Image);

/// <summary>
/// Natural photographs from Debian's mate-backgrounds package (its nature folder), decoded once per process and
/// split by file name into those training draws from and those only the held-out evaluation sees.
/// </summary>
public sealed class PhotoCatalog
{
    /// <summary>Where mate-backgrounds puts its photographs.</summary>
    public const string SystemPhotoDirectory = "/usr/share/backgrounds/mate/nature";

    /// <summary>Environment variable with the photo directories instead, separated by ':'.</summary>
    public const string DirectoriesVariable = "VIREO_PHOTO_DIRS";

    public const string Packages = "mate-backgrounds";

    /// <summary>Photographs kept out of training (file names without extension).</summary>
    public static readonly IReadOnlyList<string> HeldOutNames = ["Dune", "LadyBird", "Storm"];

    /// <summary>Photos are scaled down to at most this many pixels on the long side when loaded.</summary>
    public const int MaxSide = 1920;

    private PhotoCatalog(IReadOnlyList<Photo> training, IReadOnlyList<Photo> heldOut)
    {
        Training = training;
        HeldOut = heldOut;
    }

    public IReadOnlyList<Photo> Training { get; }

    public IReadOnlyList<Photo> HeldOut { get; }

    private static readonly CatalogFolders<PhotoCatalog> Folders = new(DirectoriesVariable, SystemPhotoDirectory, Discover);

    public static IReadOnlyList<string> DefaultDirectories() => Folders.Defaults();

    public static PhotoCatalog Default() => Load(DefaultDirectories());

    /// <exception cref="InvalidOperationException">No training photo or no held-out photo was found.</exception>
    public static PhotoCatalog Load(IReadOnlyList<string> directories) => Folders.Load(directories);

    private static PhotoCatalog Discover(IReadOnlyList<string> directories)
    {
        var files = CatalogFolders<PhotoCatalog>.Files(directories, ".jpg", ".jpeg", ".png")
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .ToList();
        var photos = files.Select(f => new Photo(Path.GetFileNameWithoutExtension(f), Decode(f))).ToList();
        var heldOut = photos.Where(p => HeldOutNames.Contains(p.Name)).ToList();
        var training = photos.Where(p => !HeldOutNames.Contains(p.Name)).ToList();
        if (training.Count == 0 || heldOut.Count == 0)
            throw new InvalidOperationException(
                $"Found {training.Count} training and {heldOut.Count} held-out photographs under {string.Join(", ", directories)}; " +
                $"real-font frames need both (held out: {string.Join(", ", HeldOutNames)}). Install {Packages} (infra/scripts/install.sh) " +
                $"or point {DirectoriesVariable} at folders holding those photographs.");
        return new PhotoCatalog(training, heldOut);
    }

    private static SKImage Decode(string path)
    {
        using var bitmap = SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path} is not an image SkiaSharp can decode.");
        var scale = Math.Min(1.0, (double)MaxSide / Math.Max(bitmap.Width, bitmap.Height));
        var info = new SKImageInfo(Math.Max(1, (int)(bitmap.Width * scale)), Math.Max(1, (int)(bitmap.Height * scale)), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var resized = bitmap.Resize(info, new SKSamplingOptions(SKCubicResampler.Mitchell)) ?? throw new InvalidDataException($"{path} could not be resized.");
        return SKImage.FromBitmap(resized);
    }
}
