// Package metrics scores multi-tag predictions with importances against
// ground-truth labels: the paper's numbers (MAE, MSE, Jaccard, mAP) and the
// usual multi-label extras (CP/CR/CF1, OP/OR/OF1 and top-3 variants,
// Spearman, NDCG).
//
// Data comes in as flat row-major N×T slices, the layout of labels.npz and
// of a model's predictions: presence (0/1) and true importance from the
// labels, tag probabilities and predicted importance from a model (for the
// Baseline the probabilities themselves). Evaluate returns a Report, which
// the train, eval and metrics commands print (WriteTable) or write as JSON.
// Predictions made by any framework arrive as a pred.npz (ReadPredictions,
// WritePredictions) and are matched to the labels by image id (Join).
//
// Definitions (θ = the threshold, a tag is predicted when prob ≥ θ):
//
//   - map_image: average precision of each image's tags ranked by
//     probability, averaged over images. Images without true tags have no
//     AP: they are excluded and counted in Report.ImagesWithoutTags.
//   - map_class: average precision of each tag's images ranked by
//     probability, averaged over tags. Tags without a positive image have no
//     AP: they are excluded and counted in Report.TagsWithoutPositives.
//   - Ties in AP: all items with equal scores enter the ranking together, as
//     one threshold, as scikit-learn's average_precision_score does:
//     AP = Σ over distinct scores s (descending) of ΔR(s)·P(s), where P and R
//     are precision and recall of the items scored ≥ s. The result does not
//     depend on the order of tied items; two tied items, one positive, give
//     AP 1/2.
//   - jaccard: |Yt ∩ Yp| / |Yt ∪ Yp| per image, averaged over all images; an
//     image with no true and no predicted tag scores 1 (nothing to find,
//     nothing claimed).
//   - mae, mse: mean absolute and squared error of predicted importance
//     against true importance over the ground-truth tags only (presence 1),
//     pooled over all (image, tag) pairs; Report.TrueTags is their count.
//   - op, or, of1: precision, recall and F1 of all (image, tag) decisions
//     pooled. cp, cr: per-tag precision and recall averaged over the tags
//     that have a positive image (the same tags as map_class); a tag never
//     predicted has precision 0. cf1 = 2·cp·cr/(cp+cr), from the averages, as
//     in ML-GCN (Chen et al., 2019) and its successors.
//   - *_top3: the same with each image's predictions limited to its 3
//     highest-scored tags that are also ≥ θ (ML-GCN's convention); ties for
//     the third place go to the lower tag index.
//   - spearman: per image, the Spearman rank correlation (Pearson on ranks,
//     ties given their average rank) of predicted against true importance
//     over the image's true tags, averaged over the images that count: an
//     image needs ≥ 2 true tags whose true importances are not all equal
//     (else there is no ranking to recover); when the predicted importances
//     of those tags are all equal the image scores 0. Report.SpearmanImages
//     is the number of images averaged.
//   - ndcg: per image, all T tags ranked by predicted importance with gains
//     equal to true importance (0 for tags not present) and discounts
//     1/log2(rank+1), over all T ranks, divided by the ideal ranking's DCG;
//     tied predictions share the average of their gains, so the result does
//     not depend on the order of ties. Averaged over images with a true tag.
//
// A mean over an empty set (no image with a true tag, no tag with a
// positive, no image for Spearman, a precision with nothing predicted) is
// reported as 0; the count fields say when that happened. Zero rather than
// NaN keeps the JSON valid.
package metrics
