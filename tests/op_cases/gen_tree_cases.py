"""Op cases for ai.onnx.ml's tree ensembles (gen_op_cases.py calls tree_cases): random
forests with every node mode, NaN inputs that follow each node's missing-value branch,
leaves without a weight for some targets, and every aggregate and post_transform that
onnxruntime and kiln both take, in the TreeEnsembleRegressor/Classifier encoding and in
TreeEnsemble's (opset 5). Reference: onnxruntime.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from gen_op_cases import V, run_ort, write

F32, F64, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64
MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def random_tree(rng, features, depth, modes, grid):
    """Nodes as dicts, the root first: tests hold mode, feature, split (a grid value, so EQ
    and NEQ hit), nan_true and the positions of their children; leaves mode LEAF."""
    nodes = []

    def grow(d):
        at = len(nodes)
        nodes.append(None)
        if d == depth or (d > 0 and rng.random() < 0.25):
            nodes[at] = {"mode": "LEAF"}
            return at
        node = {"mode": modes[rng.integers(len(modes))], "feature": int(rng.integers(features)),
                "split": float(rng.choice(grid)), "nan_true": int(rng.integers(2))}
        node["yes"] = grow(d + 1)
        node["no"] = grow(d + 1)
        nodes[at] = node
        return at

    grow(0)
    return nodes


def forest_v1(trees, prefix, weights):
    """TreeEnsembleRegressor/Classifier attributes; weights(t, i) lists (target, value)s."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true")}
    w = {f"{prefix}_treeids": [], f"{prefix}_nodeids": [], f"{prefix}_ids": [], f"{prefix}_weights": []}
    for t, nodes in enumerate(trees):
        for i, n in enumerate(nodes):
            leaf = n["mode"] == "LEAF"
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            a["nodes_featureids"].append(0 if leaf else n["feature"])
            a["nodes_modes"].append(n["mode"])
            a["nodes_values"].append(0.0 if leaf else n["split"])
            a["nodes_truenodeids"].append(0 if leaf else n["yes"])
            a["nodes_falsenodeids"].append(0 if leaf else n["no"])
            a["nodes_missing_value_tracks_true"].append(0 if leaf else n["nan_true"])
            for target, value in (weights(t, i) if leaf else []):
                w[f"{prefix}_treeids"].append(t)
                w[f"{prefix}_nodeids"].append(i)
                w[f"{prefix}_ids"].append(target)
                w[f"{prefix}_weights"].append(value)
    a.update(w)
    return a


def forest_v5(trees, weights, dtype, members=None):
    """TreeEnsemble's attributes: tests and leaves apart; one weight per leaf."""
    tests, leaves, roots, sets = [], [], [], []
    for t, nodes in enumerate(trees):
        place = {}
        for i, n in enumerate(nodes):  # positions first: children come after their parent
            if n["mode"] == "LEAF":
                place[i] = (1, len(leaves))
                target, value = weights(t, i)[0]
                leaves.append((target, value))
            else:
                place[i] = (0, len(tests))
                tests.append(None)
        roots.append(place[0][1])
        for i, n in enumerate(nodes):
            if n["mode"] != "LEAF":
                mode = MODES.index(n["mode"])
                if members and members(t, i) is not None:
                    mode = 6
                    sets.append(members(t, i))
                tests[place[i][1]] = (mode, n["feature"], n["split"], n["nan_true"], place[n["yes"]], place[n["no"]])
    np_t = np.float64 if dtype == F64 else np.float32
    a = {"nodes_featureids": [x[1] for x in tests],
         "nodes_splits": numpy_helper.from_array(np.array([x[2] for x in tests], np_t)),
         "nodes_modes": numpy_helper.from_array(np.array([x[0] for x in tests], np.uint8)),
         "nodes_missing_value_tracks_true": [x[3] for x in tests],
         "nodes_trueleafs": [x[4][0] for x in tests], "nodes_truenodeids": [x[4][1] for x in tests],
         "nodes_falseleafs": [x[5][0] for x in tests], "nodes_falsenodeids": [x[5][1] for x in tests],
         "tree_roots": roots, "leaf_targetids": [x[0] for x in leaves],
         "leaf_weights": numpy_helper.from_array(np.array([x[1] for x in leaves], np_t))}
    if sets:
        flat = [v for s in sets for v in list(s) + [np.nan]]
        a["membership_values"] = numpy_helper.from_array(np.array(flat, np_t))
    return a


def inputs(rng, n, features, grid, np_t, between=True):
    """Grid values (EQ and NEQ hit), values between them and NaNs."""
    x = rng.choice(grid, size=(n, features)).astype(np_t)
    if between:
        x[rng.random((n, features)) < 0.3] += np_t(0.25)
    x[rng.random((n, features)) < 0.1] = np.nan
    return x


def ml_model(name, node, inputs_, outputs, ml):
    graph = helper.make_graph([node], name, inputs_, outputs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19),
                                                helper.make_opsetid("ai.onnx.ml", ml)])
    m.ir_version = 10
    return m


def regressor_cases(out, rng):
    grid = np.arange(-2.0, 2.5, 0.5)
    f = 5
    for name, agg, post, targets, base, xt, modes, ntrees in (
            ("tree_regressor_sum", "SUM", "NONE", 2, [0.5, -1.0], F32, MODES, 6),
            ("tree_regressor_average_f64", "AVERAGE", "NONE", 1, [3.0], F64, MODES, 4),
            ("tree_regressor_min", "MIN", "NONE", 3, [], F32, MODES[:2], 5),
            ("tree_regressor_max", "MAX", "NONE", 3, [1.0, 2.0, 3.0], F32, MODES[2:4], 5),
            ("tree_regressor_int64", "SUM", "NONE", 1, [], I64, ["BRANCH_LEQ"], 3),
            ("tree_regressor_softmax", "SUM", "SOFTMAX", 3, [], F32, MODES, 4),
            ("tree_regressor_logistic", "AVERAGE", "LOGISTIC", 2, [0.1, 0.2], F32, MODES, 4),
            ("tree_regressor_softmax_zero", "SUM", "SOFTMAX_ZERO", 3, [], F32, ["BRANCH_LEQ"], 2),
            ("tree_regressor_one_leaf", "SUM", "NONE", 2, [], F32, MODES, 1),
            ("tree_regressor_deep", "SUM", "NONE", 1, [], F32, ["BRANCH_LEQ"], 8)):
        # deep: walks of several stages, their nodes stored between them
        depth = 0 if name.endswith("one_leaf") else 16 if name.endswith("deep") else 6
        trees = [random_tree(rng, f, depth, modes, grid) for _ in range(ntrees)]
        table = {}

        def weights(t, i):  # some leaves skip a target; the leaf of one_leaf weighs both
            if (t, i) not in table:
                table[(t, i)] = [(j, float(np.round(rng.standard_normal(), 3))) for j in range(targets)
                                 if targets == 1 or depth == 0 or rng.random() < 0.8]
            return table[(t, i)]

        a = forest_v1(trees, "target", weights)
        node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml",
                                n_targets=targets, aggregate_function=agg, post_transform=post, **a)
        if base:
            node.attribute.append(helper.make_attribute("base_values", base))
        m = ml_model(name, node, [V("x", xt, [7, f])], [V("y", F32, None)], 3)
        if xt == I64:
            x = rng.integers(-3, 3, size=(7, f)).astype(np.int64)
        else:
            x = inputs(rng, 7, f, grid, np.float64 if xt == F64 else np.float32)
        feeds = {"x": x}
        if xt == I64:  # onnxruntime takes no ints here; it would compare them as floats
            ref = run_ort(ml_model(name, node, [V("x", F32, [7, f])], [V("y", F32, None)], 3),
                          {"x": x.astype(np.float32)})
        else:
            ref = run_ort(m, feeds)
        write(out, name, m, feeds, ref)


def ensemble_cases(out, rng):
    f = 4
    for name, xt, agg, targets, member in (("tree_ensemble_f32", F32, 1, 2, False),
                                            ("tree_ensemble_f64_members", F64, 0, 3, True),
                                            ("tree_ensemble_max_members", F32, 3, 2, True)):
        # with sets, integers: onnxruntime truncates a feature before it looks it up
        grid = np.arange(-2.0, 3.0) if member else np.arange(-2.0, 2.5, 0.5)
        trees = [random_tree(rng, f, 5, MODES, grid) for _ in range(4)]
        table, sets = {}, {}

        def weights(t, i):
            if (t, i) not in table:
                table[(t, i)] = [(int(rng.integers(targets)), float(np.round(rng.standard_normal(), 3)))]
            return table[(t, i)]

        def members(t, i):
            if (t, i) not in sets:
                # integers: onnxruntime's sets take no others
                sets[(t, i)] = list(rng.choice(np.arange(-2.0, 3.0), size=int(rng.integers(1, 4)), replace=False)) \
                    if rng.random() < 0.4 else None
            return sets[(t, i)]

        a = forest_v5(trees, weights, xt, members if member else None)
        node = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", n_targets=targets,
                                aggregate_function=agg, post_transform=0, **a)
        m = ml_model(name, node, [V("x", xt, [9, f])], [V("y", xt, None)], 5)
        feeds = {"x": inputs(rng, 9, f, grid, np.float64 if xt == F64 else np.float32, not member)}
        write(out, name, m, feeds, run_ort(m, feeds))


def classifier_cases(out, rng):
    grid = np.arange(-2.0, 2.5, 0.5)
    f = 4
    S = TensorProto.STRING
    # name, labels, which classes the leaves weigh (None: each class, some skipped), sign of
    # the weights (+1: >= 0), base_values (onnxruntime takes none, one per class, or with two
    # classes one: XGBoost's),
    # post_transform, X's type
    for name, labels, weighed, sign, base, post, xt in (
            ("tree_classifier_multi", [10, 20, 30, 40], None, 0, [0.1, 0.2, 0.3, 0.4], "NONE", F32),
            ("tree_classifier_multi_strings", ["cat", "dog", "emu"], None, 1, [], "SOFTMAX", F64),
            ("tree_classifier_multi_logistic", [0, 1, 2], None, 0, [1.5, 0, -1], "LOGISTIC", F32),
            ("tree_classifier_binary_positive", [0, 1], [1], 1, [], "NONE", F32),
            ("tree_classifier_binary_logistic", [0, 1], [1], 0, [], "LOGISTIC", F32),
            ("tree_classifier_binary_base", [0, 1], [1], 0, [0.25, 0.25], "NONE", F32),
            ("tree_classifier_binary_xgboost", [0, 1], [0], 0, [0.2], "LOGISTIC", F32),
            ("tree_classifier_binary_mixed", [0, 1], [0], 0, [], "NONE", F32),
            ("tree_classifier_binary_class0", [3, 7], [0], 1, [], "NONE", F32),
            ("tree_classifier_binary_class0_logistic", [0, 1], [0], 0, [], "LOGISTIC", F64),
            ("tree_classifier_binary_strings", ["no", "yes"], [1], 1, [], "SOFTMAX", F32),
            ("tree_classifier_binary_both", [0, 1], [0, 1], 1, [], "NONE", F32),
            ("tree_classifier_binary_both_base", [0, 1], [0, 1], 0, [0.5, 0.5], "NONE", F32),
            ("tree_classifier_binary_both_zero", [0, 1], [0, 1], 0, [], "SOFTMAX_ZERO", F32)):
        classes = len(labels)
        trees = [random_tree(rng, f, 5, MODES, grid) for _ in range(5)]
        table = {}

        def weights(t, i):
            if (t, i) not in table:
                ids = weighed if weighed else [c for c in range(classes) if rng.random() < 0.7]
                if weighed == [0, 1]:  # class 1 unweighed at some leaves: one score there
                    ids = [0] + [1] * (rng.random() < 0.6)
                w = np.round(rng.standard_normal(len(ids)), 3)
                table[(t, i)] = [(c, float(abs(v) if sign > 0 else v)) for c, v in zip(ids, w)]
            return table[(t, i)]

        a = forest_v1(trees, "class", weights)
        key = "classlabels_strings" if isinstance(labels[0], str) else "classlabels_int64s"
        node = helper.make_node("TreeEnsembleClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
                                post_transform=post, **{key: labels}, **a)
        if base:
            node.attribute.append(helper.make_attribute("base_values", base))
        m = ml_model(name, node, [V("x", xt, [8, f])],
                     [V("label", S if key.endswith("strings") else I64, None), V("scores", F32, None)], 3)
        feeds = {"x": inputs(rng, 8, f, grid, np.float64 if xt == F64 else np.float32)}
        write(out, name, m, feeds, run_ort(m, feeds))


def bad_cases(out, rng):
    """Forests no walk could follow: each must fail the compile naming what is wrong."""
    x = {"x": np.zeros((2, 3), np.float32)}
    base = dict(n_targets=1, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 1, 0],
                nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"], nodes_values=[0.5, 1.5, 0.0],
                nodes_truenodeids=[1, 2, 0], nodes_falsenodeids=[2, 2, 0], target_treeids=[0],
                target_nodeids=[2], target_ids=[0], target_weights=[1.0])
    for name, change in (("tree_bad_cycle", dict(nodes_truenodeids=[1, 0, 0])),
                         ("tree_bad_feature", dict(nodes_featureids=[0, 9, 0])),
                         ("tree_bad_child", dict(nodes_falsenodeids=[2, 7, 0])),
                         ("tree_bad_weight_node", dict(target_nodeids=[1])),
                         ("tree_bad_base", dict(base_values=[1.0, 2.0]))):
        node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", **{**base, **change})
        write(out, name, ml_model(name, node, [V("x", F32, [2, 3])], [V("y", F32, None)], 3), x)
    v5 = dict(n_targets=1, nodes_featureids=[0], nodes_modes=numpy_helper.from_array(np.array([0], np.uint8)),
              nodes_splits=numpy_helper.from_array(np.array([0.5], np.float32)), nodes_trueleafs=[1],
              nodes_truenodeids=[0], nodes_falseleafs=[1], nodes_falsenodeids=[5], tree_roots=[0],
              leaf_targetids=[0, 0], leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32)))
    node = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", **v5)
    write(out, "tree_bad_leaf", ml_model("tree_bad_leaf", node, [V("x", F32, [2, 3])], [V("y", F32, None)], 5), x)
    big_set = {**v5, "nodes_falsenodeids": [1], "nodes_modes": numpy_helper.from_array(np.array([6], np.uint8)),
               "membership_values": numpy_helper.from_array(np.array(list(range(300)) + [np.nan], np.float32))}
    node = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", **big_set)
    write(out, "tree_bad_set", ml_model("tree_bad_set", node, [V("x", F32, [2, 3])], [V("y", F32, None)], 5), x)
    # a chain of 1100 tests: deeper than kiln walks
    d = 1100
    chain = [{"mode": "BRANCH_LEQ", "feature": 0, "split": float(i), "nan_true": 0, "yes": 2 * i + 1, "no": 2 * i + 2}
             if k == 0 else {"mode": "LEAF"} for i in range(d) for k in (0, 1)] + [{"mode": "LEAF"}]
    node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=1,
                            **forest_v1([chain], "target", lambda t, i: [(0, 1.0)]))
    write(out, "tree_bad_deep", ml_model("tree_bad_deep", node, [V("x", F32, [2, 3])], [V("y", F32, None)], 3), x)
    # the walk's own tables, as a model could hold them: a child past the nodes
    tables = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in (
        ("nodes", [0], np.int64), ("next", [(9 << 32) | 0], np.int64), ("leaf", [0], np.int32),
        ("roots", [0], np.int32), ("split", [0.5], np.float32))]
    node = helper.make_node("TreeWalk", ["x", "nodes", "next", "leaf", "roots", "split"], ["y"],
                            domain="ai.onnx.ml", depth=3, kinds=1)
    graph = helper.make_graph([node], "walk_bad_table", [V("x", F32, [2, 3])], [V("y", I64, None)], tables)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 10
    write(out, "walk_bad_table", m, x)


def tree_cases(out, rng):
    regressor_cases(out, rng)
    ensemble_cases(out, rng)
    classifier_cases(out, rng)
    bad_cases(out, rng)
