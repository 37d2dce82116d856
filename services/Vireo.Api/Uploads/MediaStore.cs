using Microsoft.Extensions.Options;

namespace Vireo.Api.Uploads;

/// <summary>
/// Where uploads are kept: uploads/TENANT/VIDEO.video under the media root the silos read from. The name is made
/// from ids the API chose, never from what a client sent. Folders are 700 and files 600: uploads are private to the
/// user the services run as. A file is written as VIDEO.part and renamed once it was probed, so the silos never see
/// half an upload.
/// </summary>
public sealed class MediaStore(IOptions<ApiMediaOptions> options)
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private string Root => Path.GetFullPath(options.Value.MediaRoot);

    /// <summary>The source an upload event names: a path relative to the media root.</summary>
    public static string SourceOf(VideoKey video) => $"uploads/{video.TenantId}/{video.VideoId}.video";

    public string PartialPath(VideoKey video) => Path.Combine(Root, "uploads", video.TenantId, video.VideoId + ".part");

    public string StoredPath(VideoKey video) => Path.Combine(Root, SourceOf(video));

    /// <summary>Creates the partial file of an upload, with its folders.</summary>
    public FileStream CreatePartial(VideoKey video)
    {
        foreach (var folder in new[] { Root, Path.Combine(Root, "uploads"), Path.Combine(Root, "uploads", video.TenantId) })
        {
            if (!Directory.Exists(folder))
                Directory.CreateDirectory(folder, OwnerOnlyFolder);
        }
        return new FileStream(PartialPath(video), new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            UnixCreateMode = OwnerOnlyFile,
            BufferSize = 0,
            Options = FileOptions.Asynchronous,
        });
    }

    /// <summary>Makes a probed upload visible to the silos under its final name.</summary>
    public void Promote(VideoKey video) => File.Move(PartialPath(video), StoredPath(video));

    /// <summary>Removes whatever an upload left, partial or stored.</summary>
    public void Discard(VideoKey video)
    {
        DiscardPartial(video);
        DeleteIfThere(StoredPath(video));
    }

    /// <summary>Removes an upload's partial file, if it has one.</summary>
    public void DiscardPartial(VideoKey video) => DeleteIfThere(PartialPath(video));

    // An upload refused before its file was begun may have no folder yet either.
    private static void DeleteIfThere(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Removes the stored media of a deleted video when the API stored it (other sources are not the API's to delete).</summary>
    public void DeleteSource(VideoKey video, string? source)
    {
        if (source == SourceOf(video))
            File.Delete(StoredPath(video));
    }
}
