namespace Vireo.Media;

/// <summary>How a decoded frame is fitted into the requested size.</summary>
public enum ResizeMode
{
    /// <summary>Scale to exactly Width x Height, ignoring the aspect ratio (what a 448x448 tile input wants).</summary>
    Stretch,
    /// <summary>Keep the aspect ratio and fit inside Width x Height; the output may be smaller on one side.</summary>
    Fit,
    /// <summary>Keep the aspect ratio, fit inside and pad with black to exactly Width x Height.</summary>
    Pad,
}

/// <summary>The output size of sampled frames.</summary>
/// <param name="Width">Requested width in pixels.</param>
/// <param name="Height">Requested height in pixels.</param>
/// <param name="Mode">How the frame is fitted.</param>
public readonly record struct FrameSize(int Width, int Height, ResizeMode Mode = ResizeMode.Stretch)
{
    /// <summary>A square of <paramref name="side"/> pixels, stretched (the model's tile input).</summary>
    public static FrameSize Square(int side) => new(side, side);

    /// <summary>The model's 448x448 tile.</summary>
    public static FrameSize Tile448 { get; } = Square(448);

    /// <summary>The size frames come out at for a source displayed at <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/>.</summary>
    public (int Width, int Height) OutputFor(int sourceWidth, int sourceHeight)
    {
        if (Mode != ResizeMode.Fit) return (Width, Height);
        var scale = Math.Min((double)Width / sourceWidth, (double)Height / sourceHeight);
        return (Math.Max(1, (int)Math.Round(sourceWidth * scale)), Math.Max(1, (int)Math.Round(sourceHeight * scale)));
    }
}
