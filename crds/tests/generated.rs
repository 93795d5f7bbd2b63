//! The committed CRD YAML is what the API types generate (style.md point 8).

#[test]
fn committed_crd_yaml_matches_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("yaml");
    for (file, crd) in akp_crds::all() {
        let expected = akp_crds::to_yaml(&crd).expect("CRD serializes");
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            committed == expected,
            "crds/yaml/{file} differs from the API types: run `cargo run -p akp-crds --bin crdgen` and commit"
        );
    }
}

#[test]
fn every_field_has_a_description() {
    // `kubectl explain` shows descriptions; an undocumented field is a defect.
    fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, sub) in props {
                let here = format!("{path}.{name}");
                // metadata and apiVersion/kind come from Kubernetes itself.
                if path.is_empty() && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                    continue;
                }
                if sub
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_none_or(str::is_empty)
                {
                    missing.push(here.clone());
                }
                walk(&here, sub, missing);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    let mut missing = Vec::new();
    for (_, crd) in akp_crds::all() {
        let crd = serde_json::to_value(&crd).expect("CRD serializes");
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        walk("", schema, &mut missing);
        let kind = crd["spec"]["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        missing.iter_mut().for_each(|m| {
            if !m.contains(':') {
                *m = format!("{kind}:{m}");
            }
        });
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

#[test]
fn kinds_short_names_and_scopes_follow_the_api_contract() {
    let by_kind: std::collections::BTreeMap<String, serde_json::Value> = akp_crds::all()
        .into_iter()
        .map(|(_, crd)| {
            let v = serde_json::to_value(&crd).expect("CRD serializes");
            (
                v["spec"]["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v,
            )
        })
        .collect();
    let expect = [
        ("Agency", "Cluster", vec!["agency"]),
        ("Site", "Cluster", vec![]),
        ("PlatformSoftwareProduct", "Namespaced", vec!["pbo", "pbos"]),
        ("SoftwareCatalogItem", "Cluster", vec!["swc"]),
        ("Tariff", "Cluster", vec![]),
        ("BillingReport", "Cluster", vec!["br"]),
    ];
    for (kind, scope, short) in expect {
        let crd = &by_kind[kind];
        assert_eq!(crd["spec"]["group"], "akp.egov.kz");
        assert_eq!(crd["spec"]["scope"], scope, "{kind} scope");
        let got: Vec<&str> = crd["spec"]["names"]["shortNames"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(got, short, "{kind} short names");
        assert_eq!(crd["spec"]["versions"][0]["name"], "v1alpha1");
        assert!(
            crd["spec"]["versions"][0]["subresources"]["status"].is_object(),
            "{kind} has a status subresource"
        );
    }
}
