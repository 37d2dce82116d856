using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Vireo.Blobs;

/// <summary>Where frame thumbnails are kept (section "Blobs").</summary>
public sealed partial class BlobOptions : IValidatableObject
{
    public const string Section = "Blobs";

    /// <summary>none (thumbnails off), folder or s3.</summary>
    public BlobStoreKind Kind { get; set; } = BlobStoreKind.None;

    /// <summary>The folder of <see cref="BlobStoreKind.Folder"/>: an absolute path, shared by the media silos and the API.</summary>
    public string? Root { get; set; }

    public S3BlobOptions S3 { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        switch (Kind)
        {
            case BlobStoreKind.Folder when string.IsNullOrWhiteSpace(Root) || !Path.IsPathFullyQualified(Root):
                yield return new ValidationResult("Blobs:Root must be an absolute folder path when Blobs:Kind is folder.", [nameof(Root)]);
                break;
            case BlobStoreKind.S3:
                foreach (var problem in S3.Problems())
                    yield return new ValidationResult(problem, [nameof(S3)]);
                break;
        }
    }
}

/// <summary>An S3-compatible bucket (section "Blobs:S3").</summary>
public sealed partial class S3BlobOptions
{
    /// <summary>The bucket's name.</summary>
    public string Bucket { get; set; } = "";

    /// <summary>Put before every key, e.g. "vireo/"; empty or ending in '/'.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>The region to sign requests for.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Endpoint of an S3-compatible store (MinIO, Ceph, R2…); empty means AWS S3 of <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Bucket in the path rather than the host name; most S3-compatible stores want it.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Access key id; empty uses the SDK's default credentials (environment, web identity, instance role).</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>File holding the secret access key (a mounted secret).</summary>
    public string? SecretAccessKeyFile { get; set; }

    /// <summary>The secret access key itself, where no file is mounted.</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>Seconds one request may take.</summary>
    public int TimeoutSeconds { get; set; } = 10;

    internal IEnumerable<string> Problems()
    {
        if (!BucketName().IsMatch(Bucket ?? ""))
            yield return "Blobs:S3:Bucket must be a bucket name: 3–63 lower-case letters, digits, '.' or '-'.";
        if (!string.IsNullOrEmpty(Prefix))
        {
            string? problem = null;
            try
            {
                BlobKeys.CheckPrefix(Prefix);
            }
            catch (ArgumentException e)
            {
                problem = $"Blobs:S3:Prefix: {e.Message}";
            }
            if (problem is not null)
                yield return problem;
        }
        if (string.IsNullOrWhiteSpace(Region))
            yield return "Blobs:S3:Region is required.";
        if (!string.IsNullOrEmpty(ServiceUrl) && (!Uri.TryCreate(ServiceUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
            yield return "Blobs:S3:ServiceUrl must be an absolute http or https URL.";
        var hasSecret = !string.IsNullOrEmpty(SecretAccessKeyFile) || !string.IsNullOrEmpty(SecretAccessKey);
        if (string.IsNullOrEmpty(AccessKeyId) && hasSecret)
            yield return "Blobs:S3:AccessKeyId is required with a secret access key.";
        if (!string.IsNullOrEmpty(AccessKeyId) && !hasSecret)
            yield return "Blobs:S3:SecretAccessKeyFile (or SecretAccessKey) is required with an access key id.";
        if (!string.IsNullOrEmpty(SecretAccessKeyFile) && !File.Exists(SecretAccessKeyFile))
            yield return $"Blobs:S3:SecretAccessKeyFile '{SecretAccessKeyFile}' does not exist.";
        if (TimeoutSeconds is < 1 or > 600)
            yield return "Blobs:S3:TimeoutSeconds must be between 1 and 600.";
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\z")]
    private static partial Regex BucketName();
}
