using System.ComponentModel.DataAnnotations;
using Vireo.Grains.Placement;

namespace Vireo.Silo;

/// <summary>This silo's identity and roles (section "Silo").</summary>
public sealed class SiloOptions : IValidatableObject
{
    public const string Section = "Silo";

    /// <summary>Comma-separated roles: media, vision, language.</summary>
    [Required]
    public string Roles { get; set; } = "media,vision,language";

    /// <summary>This silo's name in logs and in the placement recorded with each frame.</summary>
    public string Name { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    [Required] public string ClusterId { get; set; } = "vireo-local";
    [Required] public string ServiceId { get; set; } = "vireo";

    /// <summary>Silo-to-silo port; 0 picks a free one.</summary>
    [Range(0, 65535)] public int SiloPort { get; set; }

    /// <summary>Client gateway port; 0 picks a free one.</summary>
    [Range(0, 65535)] public int GatewayPort { get; set; }

    /// <summary>Address other silos reach this one at.</summary>
    [Required] public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Shortens failure detection for a single-machine cluster (seconds instead of a minute).</summary>
    public bool FastFailureDetection { get; set; } = true;

    /// <summary>
    /// Runs the silo as a Kubernetes pod (Orleans' Kubernetes hosting): the silo watches the pods of its cluster,
    /// declares a silo dead as soon as its pod is deleted, and deletes the pods of silos the cluster declared dead.
    /// Needs POD_NAME and POD_NAMESPACE in the environment and a role that may get, list, watch, patch and delete pods.
    /// </summary>
    public bool KubernetesHosting { get; set; }

    /// <summary>
    /// PKCS#12 file with this silo's certificate and key. When set, silo-to-silo and gateway connections use mutual
    /// TLS: every silo presents its certificate and accepts only peers whose certificate chains to <see cref="TlsCaFile"/>.
    /// </summary>
    public string? TlsCertificateFile { get; set; }

    /// <summary>A file holding the password of <see cref="TlsCertificateFile"/>.</summary>
    public string? TlsCertificatePasswordFile { get; set; }

    /// <summary>PEM certificate of the authority that signs the cluster's silo certificates; unset, the system's trust store decides.</summary>
    public string? TlsCaFile { get; set; }

    public IReadOnlyList<string> RoleList => Roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var unknown = RoleList.Except(SiloRoles.All).ToArray();
        if (unknown.Length > 0)
            yield return new ValidationResult($"Unknown silo roles: {string.Join(", ", unknown)}; known: {string.Join(", ", SiloRoles.All)}.", [nameof(Roles)]);
        if (RoleList.Count == 0)
            yield return new ValidationResult("A silo needs at least one role.", [nameof(Roles)]);
        foreach (var (name, file) in new[] { (nameof(TlsCertificateFile), TlsCertificateFile), (nameof(TlsCertificatePasswordFile), TlsCertificatePasswordFile), (nameof(TlsCaFile), TlsCaFile) })
            if (!string.IsNullOrEmpty(file) && !File.Exists(file))
                yield return new ValidationResult($"Silo:{name} '{file}' does not exist.", [name]);
        if (string.IsNullOrEmpty(TlsCertificateFile) && !string.IsNullOrEmpty(TlsCaFile))
            yield return new ValidationResult("Silo:TlsCaFile needs Silo:TlsCertificateFile: TLS is on only with a certificate of the silo's own.", [nameof(TlsCaFile)]);
    }
}
