using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace PublicDocumentation;

/// <summary>
/// Keeps in a compiler-written XML documentation file only the members a user of the assembly can
/// see: public, or protected in a type that can be derived from, declared in types that are visible
/// themselves. Visibility is read from the compiled assembly's metadata, and each member's
/// documentation ID is rebuilt from its signature the way the compiler writes it.
/// </summary>
internal static class PublicDocumentation
{
    /// <summary>Removes from <paramref name="documentationFile"/> every member that <paramref name="assembly"/> does not show to its users; returns how many.</summary>
    public static int Filter(string assembly, string documentationFile)
    {
        HashSet<string> visible;
        using (var stream = File.OpenRead(assembly))
        using (var pe = new PEReader(stream))
        {
            visible = VisibleIds(pe.GetMetadataReader());
        }

        XDocument document = XDocument.Load(documentationFile, LoadOptions.PreserveWhitespace);
        XElement? members = document.Root?.Element("members");
        if (members is null)
        {
            return 0;
        }

        List<XElement> hidden = members.Elements("member").Where(m => !visible.Contains((string?)m.Attribute("name") ?? "")).ToList();
        if (hidden.Count == 0)
        {
            return 0;
        }

        foreach (XElement member in hidden)
        {
            // Take the indentation before the element with it.
            if (member.PreviousNode is XText indent && string.IsNullOrWhiteSpace(indent.Value))
            {
                indent.Remove();
            }

            member.Remove();
        }

        document.Save(documentationFile);
        return hidden.Count;
    }

    private static HashSet<string> VisibleIds(MetadataReader reader)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var provider = new IdTypeProvider(reader);
        foreach (TypeDefinitionHandle handle in reader.TypeDefinitions)
        {
            TypeDefinition type = reader.GetTypeDefinition(handle);
            if (!IsVisible(reader, type))
            {
                continue;
            }

            string typeId = provider.DefinitionName(handle);
            ids.Add("T:" + typeId);
            bool derivable = (type.Attributes & TypeAttributes.Sealed) == 0;

            foreach (FieldDefinitionHandle fieldHandle in type.GetFields())
            {
                FieldDefinition field = reader.GetFieldDefinition(fieldHandle);
                if (IsVisible(field.Attributes & FieldAttributes.FieldAccessMask, derivable))
                {
                    ids.Add("F:" + typeId + "." + Escape(reader.GetString(field.Name)));
                }
            }

            foreach (MethodDefinitionHandle methodHandle in type.GetMethods())
            {
                MethodDefinition method = reader.GetMethodDefinition(methodHandle);
                if (IsVisible(method.Attributes & MethodAttributes.MemberAccessMask, derivable))
                {
                    ids.Add("M:" + typeId + "." + MethodId(reader, provider, method));
                }
            }

            foreach (PropertyDefinitionHandle propertyHandle in type.GetProperties())
            {
                PropertyDefinition property = reader.GetPropertyDefinition(propertyHandle);
                PropertyAccessors accessors = property.GetAccessors();
                bool shown = new[] { accessors.Getter, accessors.Setter }
                    .Where(a => !a.IsNil)
                    .Any(a => IsVisible(reader.GetMethodDefinition(a).Attributes & MethodAttributes.MemberAccessMask, derivable));
                if (shown)
                {
                    MethodSignature<string> signature = property.DecodeSignature(provider, null!);
                    ids.Add("P:" + typeId + "." + Escape(reader.GetString(property.Name)) + Parameters(signature.ParameterTypes));
                }
            }

            foreach (EventDefinitionHandle eventHandle in type.GetEvents())
            {
                EventDefinition @event = reader.GetEventDefinition(eventHandle);
                MethodDefinitionHandle adder = @event.GetAccessors().Adder;
                if (!adder.IsNil && IsVisible(reader.GetMethodDefinition(adder).Attributes & MethodAttributes.MemberAccessMask, derivable))
                {
                    ids.Add("E:" + typeId + "." + Escape(reader.GetString(@event.Name)));
                }
            }
        }

        return ids;
    }

    private static string MethodId(MetadataReader reader, IdTypeProvider provider, MethodDefinition method)
    {
        string name = reader.GetString(method.Name);
        MethodSignature<string> signature = method.DecodeSignature(provider, null!);
        string id = Escape(name);
        if (signature.GenericParameterCount > 0)
        {
            id += "``" + signature.GenericParameterCount;
        }

        id += Parameters(signature.ParameterTypes);
        if (name == "op_Implicit" || name == "op_Explicit")
        {
            id += "~" + signature.ReturnType;
        }

        return id;
    }

    private static string Parameters(ImmutableArray<string> parameters) =>
        parameters.Length == 0 ? "" : "(" + string.Join(",", parameters) + ")";

    // Documentation IDs write '.' inside a member name (.ctor, explicit implementations) as '#'.
    private static string Escape(string name) => name.Replace('.', '#');

    private static bool IsVisible(MetadataReader reader, TypeDefinition type)
    {
        TypeAttributes visibility = type.Attributes & TypeAttributes.VisibilityMask;
        if (visibility == TypeAttributes.Public)
        {
            return true;
        }

        bool nestedVisible = visibility == TypeAttributes.NestedPublic || visibility == TypeAttributes.NestedFamily || visibility == TypeAttributes.NestedFamORAssem;
        if (!nestedVisible)
        {
            return false;
        }

        TypeDefinition declaring = reader.GetTypeDefinition(type.GetDeclaringType());
        bool protectedOnly = visibility != TypeAttributes.NestedPublic;
        return IsVisible(reader, declaring) && (!protectedOnly || (declaring.Attributes & TypeAttributes.Sealed) == 0);
    }

    private static bool IsVisible(FieldAttributes access, bool derivable) =>
        access == FieldAttributes.Public || (derivable && (access == FieldAttributes.Family || access == FieldAttributes.FamORAssem));

    private static bool IsVisible(MethodAttributes access, bool derivable) =>
        access == MethodAttributes.Public || (derivable && (access == MethodAttributes.Family || access == MethodAttributes.FamORAssem));

    /// <summary>Writes types the way documentation IDs do: System.Collections.Generic.List{System.String}, ``0, T[], T@.</summary>
    private sealed class IdTypeProvider : ISignatureTypeProvider<string, object>
    {
        private readonly MetadataReader _reader;

        public IdTypeProvider(MetadataReader reader) => _reader = reader;

        public string DefinitionName(TypeDefinitionHandle handle)
        {
            TypeDefinition type = _reader.GetTypeDefinition(handle);
            string name = _reader.GetString(type.Name);
            if (type.IsNested)
            {
                return DefinitionName(type.GetDeclaringType()) + "." + name;
            }

            string ns = _reader.GetString(type.Namespace);
            return ns.Length == 0 ? name : ns + "." + name;
        }

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => DefinitionName(handle);

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            TypeReference type = reader.GetTypeReference(handle);
            string name = reader.GetString(type.Name);
            if (type.ResolutionScope.Kind == HandleKind.TypeReference)
            {
                return GetTypeFromReference(reader, (TypeReferenceHandle)type.ResolutionScope, rawTypeKind) + "." + name;
            }

            string ns = reader.GetString(type.Namespace);
            return ns.Length == 0 ? name : ns + "." + name;
        }

        public string GetTypeFromSpecification(MetadataReader reader, object genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments)
        {
            // List`1 becomes List{...}; for a nested type of a generic type each part carries its own arity.
            int consumed = 0;
            var parts = genericType.Split('.');
            for (int i = 0; i < parts.Length; i++)
            {
                int tick = parts[i].IndexOf('`');
                if (tick < 0)
                {
                    continue;
                }

                int arity = int.Parse(parts[i].Substring(tick + 1));
                parts[i] = parts[i].Substring(0, tick) + "{" + string.Join(",", typeArguments.Skip(consumed).Take(arity)) + "}";
                consumed += arity;
            }

            return string.Join(".", parts);
        }

        public string GetArrayType(string elementType, ArrayShape shape)
        {
            var dimensions = Enumerable.Range(0, shape.Rank).Select(i =>
            {
                int? lower = i < shape.LowerBounds.Length ? shape.LowerBounds[i] : null;
                int? size = i < shape.Sizes.Length ? shape.Sizes[i] : null;
                return lower.HasValue || size.HasValue ? (lower ?? 0) + ":" + (size.HasValue ? (lower ?? 0) + size.Value - 1 + "" : "") : "0:";
            });
            return elementType + "[" + string.Join(",", dimensions) + "]";
        }

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetByReferenceType(string elementType) => elementType + "@";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetPinnedType(string elementType) => elementType;

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

        public string GetGenericMethodParameter(object genericContext, int index) => "``" + index;

        public string GetGenericTypeParameter(object genericContext, int index) => "`" + index;

        public string GetFunctionPointerType(MethodSignature<string> signature) => "method";

        public string GetPrimitiveType(PrimitiveTypeCode typeCode)
        {
            switch (typeCode)
            {
                case PrimitiveTypeCode.Boolean: return "System.Boolean";
                case PrimitiveTypeCode.Byte: return "System.Byte";
                case PrimitiveTypeCode.SByte: return "System.SByte";
                case PrimitiveTypeCode.Char: return "System.Char";
                case PrimitiveTypeCode.Int16: return "System.Int16";
                case PrimitiveTypeCode.UInt16: return "System.UInt16";
                case PrimitiveTypeCode.Int32: return "System.Int32";
                case PrimitiveTypeCode.UInt32: return "System.UInt32";
                case PrimitiveTypeCode.Int64: return "System.Int64";
                case PrimitiveTypeCode.UInt64: return "System.UInt64";
                case PrimitiveTypeCode.Single: return "System.Single";
                case PrimitiveTypeCode.Double: return "System.Double";
                case PrimitiveTypeCode.IntPtr: return "System.IntPtr";
                case PrimitiveTypeCode.UIntPtr: return "System.UIntPtr";
                case PrimitiveTypeCode.Object: return "System.Object";
                case PrimitiveTypeCode.String: return "System.String";
                case PrimitiveTypeCode.TypedReference: return "System.TypedReference";
                case PrimitiveTypeCode.Void: return "System.Void";
                default: return typeCode.ToString();
            }
        }
    }
}
